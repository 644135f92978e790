"""The model-file reader process: reads feature importances from skops files sent to it, one
after another, for as long as its parent keeps its standard input open.

Started by `tools.importance_process` as ``python -m tools.importance_worker MEMORY_BYTES``. It
caps its own address space (RLIMIT_AS) first, so a crafted file that needs gigabytes to parse
ends in a MemoryError here, not in the serving process; then it imports what reading a model
file needs (`tools.model_importance.import_model_readers`) and says it is ready.

The exchange, on its standard input and output:

- ready: ``{"ready": true}`` and a newline, once;
- each request: one line of JSON (``size``, ``trusted_types``, ``source``, ``model_file``),
  then ``size`` bytes of the file;
- each answer: one line, the `FeatureImportances` as JSON, or ``{"error": "..."}`` when this
  process could not read the file at all (memory).

It reads with the serving process's own function (`load_skops_importances`'s loader, which never
unpickles and constructs only trusted types), so an answer is the one the serving process would
have made. Anything a library prints goes to standard error: standard output carries answers only.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import sys
from typing import IO, Any

__all__ = ["main", "serve"]


def _answer(out: IO[bytes], payload: bytes) -> None:
    out.write(payload + b"\n")
    out.flush()


def serve(requests: IO[bytes], out: IO[bytes]) -> int:
    """Answer requests from `requests` on `out` until `requests` ends; returns the exit status.

    Args:
        requests: The request stream (the parent's pipe).
        out: Where answers go.
    """
    from tools.model_importance import _load_skops_importances, import_model_readers

    import_model_readers()
    # What the imports built is never freed; the collector stops walking it. A file's parse
    # builds hundreds of thousands of objects that reference counting frees when it ends:
    # collections during it would walk them for nothing, so it runs with the collector off
    # (the address-space cap still bounds it; a cycle it leaves waits for a later collection).
    gc.collect()
    gc.freeze()
    _answer(out, json.dumps({"ready": True}).encode())
    while True:
        header = requests.readline()
        if not header:
            return 0
        request: dict[str, Any] = json.loads(header)
        size = int(request["size"])
        data = requests.read(size)
        if len(data) != size:
            return 2
        gc.disable()
        try:
            found = _load_skops_importances(
                data,
                trusted_types=[str(t) for t in request["trusted_types"]],
                source=str(request["source"]),
                model_file=str(request["model_file"]),
            )
        except MemoryError:
            _answer(out, json.dumps({"error": "memory"}).encode())
            continue
        finally:
            gc.enable()
        # Only the fields the loader set: the parent's copy is the loader's, fields set and all.
        _answer(out, found.model_dump_json(exclude_unset=True).encode())


def main() -> int:
    memory = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    if memory > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    # Answers leave through a copy of the original standard output; what libraries print goes
    # to standard error instead, so that it cannot be read as an answer.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    try:
        return serve(sys.stdin.buffer, out)
    except BrokenPipeError:
        # The parent went away (it stopped, or stopped this child): nothing is left to answer.
        return 0


if __name__ == "__main__":
    sys.exit(main())
