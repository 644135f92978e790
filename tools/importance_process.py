"""A warm child process that reads model files' feature importances for a serving process.

Reading a skops file's importances is CPU the serving process holds the interpreter for: the
schema's JSON and skops' audit of every node, 0.1-0.25 s for the demo's 5-8 MB forests on 2
cores. A long-running `promogate serve` or `worker` starts one `ImportanceProcess` (``python -m
tools.importance_worker``) that has imported skops and scikit-learn once; a gate starts the
reads once it knows the policies (`review._plausibility_evidence.start_importance_reads`), so
the file is parsed on the other core while the gate reads and compares the rest. The child
also bounds what a file can cost: its address space is capped, and a file it does not answer for
in time is abandoned with the child, which the next read replaces.

The child runs the serving process's own loader, so its answer is the one the serving process
would have made. Its answers are JSON, validated as `FeatureImportances`; nothing it sends is
unpickled. Reads are answered one at a time, in the order they arrive.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import Final

from pydantic import ValidationError

from tools.errors import ReaderProcessError
from tools.plausibility_models import FeatureImportances

__all__ = [
    "DEFAULT_MEMORY_BYTES",
    "DEFAULT_START_TIMEOUT_S",
    "DEFAULT_TIMEOUT_S",
    "ImportanceProcess",
]

logger = logging.getLogger("promogate.tools")

#: The child's address-space cap: scikit-learn, SciPy and a parsed file fit with room to spare.
DEFAULT_MEMORY_BYTES: Final = 4 * 1024 * 1024 * 1024
#: How long one file may take.
DEFAULT_TIMEOUT_S: Final = 60.0
#: How long the child may take to import skops and scikit-learn (about 3 s on 2 cores).
DEFAULT_START_TIMEOUT_S: Final = 120.0
# An answer is a few hundred bytes a feature; a longer line is not one.
_MAX_ANSWER_BYTES: Final = 16 * 1024 * 1024
_READY: Final = {"ready": True}


class ImportanceProcess:
    """One child process that reads skops files' importances, started on demand.

    Thread-safe: callers wait their turn. A child that ends, runs out of memory, answers out of
    form or does not answer in time is stopped, the read raises `ReaderProcessError`, and the
    next read starts a new child.

    Args:
        memory_bytes: The child's address-space cap (RLIMIT_AS); 0 for none.
        timeout_s: How long one file may take.
        start_timeout_s: How long a new child may take to be ready.
        command: The child's command line (the worker module under this interpreter by
            default); the memory cap is appended.
    """

    def __init__(
        self,
        *,
        memory_bytes: int = DEFAULT_MEMORY_BYTES,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        start_timeout_s: float = DEFAULT_START_TIMEOUT_S,
        command: Sequence[str] | None = None,
    ) -> None:
        if memory_bytes < 0:
            raise ValueError(f"memory_bytes must not be negative, got {memory_bytes!r}")
        if timeout_s <= 0 or start_timeout_s <= 0:
            raise ValueError(f"timeouts must be positive, got {timeout_s!r}, {start_timeout_s!r}")
        self.memory_bytes = memory_bytes
        self.timeout_s = timeout_s
        self.start_timeout_s = start_timeout_s
        self._command = list(command or [sys.executable, "-m", "tools.importance_worker"])
        self._lock = threading.Lock()
        self._child: subprocess.Popen[bytes] | None = None
        self._ready = False
        self._started_at = 0.0
        self._pending = bytearray()
        self._closed = False
        self._answered = 0

    @property
    def pid(self) -> int | None:
        """The running child's process id, or None when none runs."""
        child = self._child
        return child.pid if child is not None and child.poll() is None else None

    @property
    def answered(self) -> int:
        """How many files this process's children have read (answers given)."""
        return self._answered

    def start(self) -> None:
        """Start the child now, so that it imports its libraries before the first read needs
        them; returns at once."""
        with self._lock:
            if not self._closed:
                self._running()

    def wait_until_ready(self) -> None:
        """Start the child unless one runs, and wait until it has imported its libraries (up to
        `start_timeout_s` from its start): a server's warm-up, so that its first read does not.

        Raises:
            ReaderProcessError: The process was closed, or the child did not come up (it was
                stopped; the next read starts another).
        """
        with self._lock:
            if self._closed:
                raise ReaderProcessError("the model-file reader process was closed")
            child = self._running()
            try:
                self._await_ready(child)
            except TimeoutError:
                self._stop(child)
                raise ReaderProcessError(
                    f"the model-file reader process was not ready within "
                    f"{self.start_timeout_s:g} s of its start; it was stopped"
                ) from None
            except (EOFError, OSError, ValueError) as exc:
                code = self._stop(child)
                raise ReaderProcessError(
                    f"the model-file reader process did not come up (exit code {code!r}): "
                    f"{str(exc)[:300]}"
                ) from None

    def read(
        self, data: bytes, *, trusted_types: Sequence[str], source: str, model_file: str
    ) -> FeatureImportances:
        """The importances of the skops file `data`, as `load_skops_importances` reads them.

        Args:
            data: The file's bytes.
            trusted_types: Types trusted beyond skops' defaults.
            source: Where the file came from, recorded in the result.
            model_file: The file's path inside the model.

        Raises:
            ReaderProcessError: The child gave no answer (see the class).
        """
        header = json.dumps(
            {
                "size": len(data),
                "trusted_types": list(trusted_types),
                "source": source,
                "model_file": model_file,
            }
        ).encode()
        with self._lock:
            if self._closed:
                raise ReaderProcessError("the model-file reader process was closed")
            child = self._running()
            limit = self.timeout_s
            try:
                if not self._ready:
                    limit = self.start_timeout_s
                    self._await_ready(child)
                    limit = self.timeout_s
                with _Watchdog(child, time.monotonic() + limit):
                    self._send(child, header + b"\n")
                    self._send(child, data)
                    line = self._line(child)
                answer = json.loads(line)
                if isinstance(answer, dict) and "error" in answer:
                    raise MemoryError(str(answer["error"]))
                found = FeatureImportances.model_validate(answer)
            except TimeoutError:
                self._stop(child)
                raise ReaderProcessError(
                    f"the model-file reader process did not answer within {limit:g} s "
                    f"for {source!r}; it was stopped"
                ) from None
            except MemoryError:
                self._stop(child)
                raise ReaderProcessError(
                    f"the model-file reader process ran out of its "
                    f"{self.memory_bytes // (1024 * 1024)} MiB reading {source!r}"
                ) from None
            except (EOFError, OSError) as exc:
                code = self._stop(child)
                raise ReaderProcessError(
                    f"the model-file reader process ended (exit code {code!r}) reading "
                    f"{source!r}: {exc}"
                ) from None
            except (ValueError, ValidationError) as exc:
                self._stop(child)
                raise ReaderProcessError(
                    f"the model-file reader process answered out of form for {source!r}: "
                    f"{str(exc)[:300]}"
                ) from None
            self._answered += 1
            return found

    def close(self) -> None:
        """Stop the child (it ends when its input closes) and refuse later reads."""
        with self._lock:
            self._closed = True
            child = self._child
            if child is not None:
                self._stop(child)

    def _await_ready(self, child: subprocess.Popen[bytes]) -> None:
        """Read the child's ready line unless it was read (the caller holds the lock).

        Raises:
            TimeoutError: Not within `start_timeout_s` of the child's start.
            EOFError, OSError, ValueError: The child ended or said something else first.
        """
        if self._ready:
            return
        with _Watchdog(child, self._started_at + self.start_timeout_s):
            line = self._line(child)
        if json.loads(line) != _READY:
            raise ValueError(f"its first line is not ready: {line[:200]!r}")
        self._ready = True

    def _running(self) -> subprocess.Popen[bytes]:
        """The running child, started when there is none (the caller holds the lock)."""
        child = self._child
        if child is not None and child.poll() is None:
            return child
        command = [*self._command, str(self.memory_bytes)]
        # One BLAS thread: the child reads trees, and every idle BLAS thread reserves memory
        # under the cap.
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        child = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0, env=env
        )
        self._child = child
        self._ready = False
        self._started_at = time.monotonic()
        self._pending.clear()
        logger.info("model-file reader process %d started", child.pid)
        return child

    def _stop(self, child: subprocess.Popen[bytes]) -> int | None:
        """Stop `child` and forget it; its exit code."""
        if self._child is child:
            self._child = None
        self._pending.clear()
        for stream in (child.stdin, child.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        try:
            return child.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            child.kill()
            return child.wait()

    def _send(self, child: subprocess.Popen[bytes], data: bytes) -> None:
        # Blocking writes: the interpreter is released for the whole transfer, where a write
        # per pipe-full would wait for it again each time (128 times for 8 MB) while the review
        # holds it. A child that stops reading is stopped by the watchdog, which ends the write.
        assert child.stdin is not None
        fd = child.stdin.fileno()
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]

    def _line(self, child: subprocess.Popen[bytes]) -> bytes:
        assert child.stdout is not None
        fd = child.stdout.fileno()
        while (end := self._pending.find(b"\n")) < 0:
            if len(self._pending) > _MAX_ANSWER_BYTES:
                raise ValueError(f"an answer longer than {_MAX_ANSWER_BYTES} bytes")
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise EOFError("its output ended")
            self._pending += chunk
        line = bytes(self._pending[:end])
        del self._pending[: end + 1]
        return line


class _Watchdog:
    """Kills `child` at `deadline` unless the block it guards ended first; the block then raises
    `TimeoutError` (whatever the kill made it raise)."""

    def __init__(self, child: subprocess.Popen[bytes], deadline: float) -> None:
        self._child = child
        self._fired = threading.Event()
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._fire)
        self._timer.daemon = True

    def _fire(self) -> None:
        self._fired.set()
        with contextlib.suppress(OSError):
            self._child.kill()

    def __enter__(self) -> None:
        self._timer.start()

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self._timer.cancel()
        if self._fired.is_set():
            raise TimeoutError
