"""Find pickles by their opcodes, not their names, including inside zip containers.

A file is a pickle when `pickletools.genops` (which decodes opcodes and never executes them)
reads a plausible opcode stream from its start: PyTorch's `data.pkl` inside a `.pt` zip, a
`model.bin` that is really a joblib dump, or a NumPy `.npy` whose object dtype embeds one. The
globals a pickle imports (GLOBAL, INST and STACK_GLOBAL with the strings pushed before it) are
listed here too: they are what a policy's allowlist is compared with.
"""

from __future__ import annotations

import ast
import io
import pickletools
import warnings
import zipfile
from _compat_pickle import IMPORT_MAPPING, NAME_MAPPING
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "PickleLocation",
    "find_pickles",
    "list_globals",
    "open_location",
    "sniff_pickle",
]

# Sniffing reads only the start of a stream: enough opcodes to be sure it is no accident.
_SNIFF_BYTES = 64 * 1024
_SNIFF_OPCODES = 4
_SNIFF_OPCODES_P0 = 256
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAX_MEMBERS = 10_000
_MAX_NESTING = 2
_STRING_OPS = {
    "SHORT_BINUNICODE",
    "BINUNICODE",
    "BINUNICODE8",
    "UNICODE",
    "STRING",
    "BINSTRING",
    "SHORT_BINSTRING",
}


class PickleLocation(BaseModel):
    """A pickle stream: a file, or a member of a zip inside it (nested for zips in zips)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str = Field(description="POSIX path of the file relative to the artifact root.")
    members: list[str] = Field(
        default_factory=list, description="Zip member chain, outermost first."
    )
    offset: int = Field(default=0, description="Where the pickle starts (after a .npy header).")
    size: int = 0

    @property
    def label(self) -> str:
        return ":".join([self.path, *self.members])


def _genops(stream: IO[bytes]) -> Iterator[tuple[pickletools.OpcodeInfo, object, int | None]]:
    """`pickletools.genops`, with the decoder's warnings about string escapes silenced.

    A hostile pickle's strings are data: an escape Python no longer accepts (``\\B``) must neither
    stop the scan nor surface as a warning of ours.
    """
    opcodes = pickletools.genops(stream)
    while True:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            try:
                opcode = next(opcodes)
            except StopIteration:
                return
        yield opcode


def _genops_ok(head: bytes, complete: bool) -> bool:
    """True when the bytes start with a plausible opcode stream.

    A stream starting with PROTO 2-5 needs a few valid opcodes after it; a protocol 0/1 stream
    (which any text could resemble) must be read through to STOP, or for a head cut short, run
    for many opcodes without an error.
    """
    if head[:1] == b"\x80" and len(head) > 1 and not 2 <= head[1] <= 5:
        return False
    count = 0
    try:
        for opcode, _arg, pos in _genops(io.BytesIO(head)):
            count += 1
            if opcode.name == "STOP":
                if head[:1] == b"\x80":
                    return True
                # Text can spell a short protocol 0 stream ("torch==2.5.1" reaches STOP at
                # '.'): a protocol 0/1 pickle file must end exactly at its STOP.
                return complete and count >= 2 and pos is not None and pos + 1 == len(head)
    except (ValueError, EOFError, UnicodeDecodeError, OverflowError):
        # joblib writes raw array bytes in the middle of its pickle stream: a PROTO stream that
        # breaks after several valid opcodes is still a pickle (and the scanners must say so).
        if complete and head[:1] != b"\x80":
            return False
    if head[:1] == b"\x80":
        return count >= _SNIFF_OPCODES
    return not complete and count >= _SNIFF_OPCODES_P0


def _npy_pickle_offset(head: bytes) -> int | None:
    """Offset of the pickle inside an object-dtype .npy file, None for plain arrays."""
    if not head.startswith(_NPY_MAGIC) or len(head) < 10:
        return None
    major = head[6]
    if major == 1:
        header_len, start = int.from_bytes(head[8:10], "little"), 10
    else:
        header_len, start = int.from_bytes(head[8:12], "little"), 12
    header = head[start : start + header_len].decode("latin-1", errors="replace")
    try:
        meta = ast.literal_eval(header.strip())
    except (ValueError, SyntaxError):
        return start + header_len  # an unreadable header: let the scanners look at the rest
    descr = meta.get("descr") if isinstance(meta, dict) else None
    if isinstance(descr, str) and "O" not in descr:
        return None
    return start + header_len


def sniff_pickle(head: bytes, *, complete: bool = True) -> int | None:
    """The offset of a pickle at the start of `head` (0, or after a .npy header), else None.

    Args:
        head: The first bytes of the stream.
        complete: True when `head` is the whole stream, not its first part.
    """
    if head.startswith(_NPY_MAGIC):
        offset = _npy_pickle_offset(head)
        if offset is None or not _genops_ok(head[offset:], complete):
            return None
        return offset
    return 0 if head and _genops_ok(head, complete) else None


def _zip_members(
    data: IO[bytes], path: str, chain: list[str], depth: int
) -> Iterator[PickleLocation]:
    with zipfile.ZipFile(data) as archive:
        infos = [i for i in archive.infolist() if not i.is_dir()][:_ZIP_MAX_MEMBERS]
        for info in infos:
            with archive.open(info) as member:
                head = member.read(_SNIFF_BYTES)
            members = [*chain, info.filename]
            offset = sniff_pickle(head, complete=info.file_size <= len(head))
            if offset is not None:
                yield PickleLocation(path=path, members=members, offset=offset, size=info.file_size)
            elif depth < _MAX_NESTING and head.startswith(b"PK\x03\x04"):
                with archive.open(info) as member:
                    inner = io.BytesIO(member.read())
                yield from _zip_members(inner, path, members, depth + 1)


def find_pickles(root: Path, files: list[str]) -> tuple[list[PickleLocation], list[str]]:
    """The pickle streams among `files` (relative to `root`), and the files that could not be read.

    Args:
        root: The local artifact directory.
        files: Relative POSIX paths to examine.
    """
    found: list[PickleLocation] = []
    unreadable: list[str] = []
    for rel in files:
        path = root / rel
        try:
            with path.open("rb") as handle:
                head = handle.read(_SNIFF_BYTES)
                offset = sniff_pickle(head, complete=path.stat().st_size <= len(head))
                if offset is not None:
                    found.append(PickleLocation(path=rel, offset=offset, size=path.stat().st_size))
                    continue
                if zipfile.is_zipfile(handle):
                    handle.seek(0)
                    found.extend(_zip_members(handle, rel, [], 1))
        except (OSError, zipfile.BadZipFile, RuntimeError, NotImplementedError) as exc:
            # Encrypted or corrupt members are not "no pickle here": the scan must fail.
            unreadable.append(f"{rel}: {exc}")
    return found, unreadable


def open_location(root: Path, location: PickleLocation) -> IO[bytes]:
    """The pickle stream at `location`, positioned at its first opcode."""
    handle: IO[bytes] = (root / location.path).open("rb")
    for member in location.members:
        with zipfile.ZipFile(handle) as archive:
            inner = io.BytesIO(archive.read(member))
        handle.close()
        handle = inner
    handle.seek(location.offset)
    return handle


def _qualified(module: str, name: str) -> str:
    """`module.name` as Python 3 resolves it (protocol 0-2 write `__builtin__`, `copy_reg`)."""
    if (module, name) in NAME_MAPPING:
        module, name = NAME_MAPPING[(module, name)]
    elif module in IMPORT_MAPPING:
        module = IMPORT_MAPPING[module]
    return f"{module}.{name}"


def _int(arg: object) -> int:
    return arg if isinstance(arg, int) else int(str(arg))


def _globals_of_one(stream: IO[bytes], found: dict[str, None]) -> bool:
    """Add the globals of the next pickle in `stream`; False when there was none."""
    strings: list[str] = []
    memo: dict[int, str] = {}
    memo_count = 0
    last_string: str | None = None
    any_op = False
    for opcode, arg, _pos in _genops(stream):
        any_op = True
        name = opcode.name
        pushed: str | None = None
        if name in _STRING_OPS and isinstance(arg, str | bytes):
            pushed = arg if isinstance(arg, str) else arg.decode("latin-1")
            strings.append(pushed)
        elif name in {"GLOBAL", "INST"} and isinstance(arg, str):
            module, _, attr = arg.partition(" ")
            found[_qualified(module, attr)] = None
        elif name == "STACK_GLOBAL":
            # Operands that are not the last two plain strings pushed are a scanner-evasion
            # pattern; they are listed as `?.?` so an allowlist can never clear them.
            if len(strings) >= 2 and last_string is not None:
                found[_qualified(strings[-2], strings[-1])] = None
            else:
                found["?.?"] = None
        elif name == "MEMOIZE":
            if last_string is not None:
                memo[memo_count] = last_string
            memo_count += 1
        elif name in {"PUT", "BINPUT", "LONG_BINPUT"} and last_string is not None:
            memo[_int(arg)] = last_string
        elif name in {"GET", "BINGET", "LONG_BINGET"} and _int(arg) in memo:
            pushed = memo[_int(arg)]
            strings.append(pushed)
        if name in {"MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT", "FRAME", "PROTO"}:
            continue  # these do not change the top of the stack
        last_string = pushed
    return any_op


def list_globals(stream: IO[bytes]) -> list[str]:
    """Every `module.name` the pickle stream imports, in order of first use, without executing.

    Also reads the pickles stacked after the first one (PyTorch's legacy format writes several,
    followed by raw tensor bytes, which end the listing). STACK_GLOBAL takes the two most recent
    strings pushed, which is how protocol 4+ names its globals.

    Raises:
        ValueError: The stream does not start with a valid pickle.
    """
    found: dict[str, None] = {}
    _globals_of_one(stream, found)
    while True:
        here = stream.tell()
        if stream.read(1) == b"":
            break
        stream.seek(here)
        try:
            if not _globals_of_one(stream, found):
                break
        except ValueError:
            break
    return list(found)
