"""An MLflow client that answers a repeated read from what it read the first time, for the span of
one evidence gathering.

Gathering one version's evidence reads the same things from several tools: against an
`mlflow server`, one fresh review asked for each source run seven times and each logged model
ten times (72 calls, most of them repeats, answered one after another by a one-worker server).
Within one gathering, a repeat is answered from the first read. That is also the more
consistent answer: every tool sees the same snapshot of a run, instead of one that may have
moved between two tools' reads. Changes made while a review runs are caught where they always
were: the gate's fingerprint is taken before and after, and a decision is tied to it only when
the two agree. The fingerprint taken before reads through the gathering's client, so what it read
one by one (the version, runs, logged models, histories) is not read again by the tools.

Only metadata reads are kept (runs, versions, logged models, searches, histories, listings);
failures are not kept. A read asked for while the same read is under way in another thread waits
for its answer instead of reading again (the gate's fingerprint and the model files' read-ahead
ask for the same version and logged model at the same moment); if that read fails, the waiter
reads for itself. What is kept is a copy taken before anyone sees the answer (its pickle),
and every repeat gets a copy of that, so a caller that changes what it got cannot change what
the next caller gets. Calls whose arguments cannot be used as a key, and every other method, go
straight to the client. A version read by alias also answers the read of that version by number
(`get_model_version(name, "N")`): MLflow gives the same version, with its aliases, either way,
and the baseline is read by alias first and by number after.

A caller that read something in a batch can keep the parts as the answers to the single reads
they stand for (`keep_answer`): the runs of a `search_runs` by id as their `get_run`, the logged
models of a `search_logged_models` as their `get_logged_model`, one version's evaluation runs
picked from a search of all the model's, each run's points of a bulk history read as its
`get_metric_history`. MLflow's search answers hold what its single reads hold, but for a run's
logged-model inputs, which a search leaves out and nothing here reads; its bulk history answers
each point's step, timestamp and value, not the logged model or dataset a point was logged
against, which nothing here reads either. A kept answer is never replaced: the first answer to
a read is the one every later caller gets. `kept_answer` asks for a kept answer without reading.
A batch whose parts are reads another thread is about to make declares them (`answering`): while
it runs, those reads wait for it as for the same read under way, and read for themselves only
if it left them unanswered.
"""

from __future__ import annotations

import contextlib
import copy
import pickle
import threading
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, cast

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "READS_KEPT",
    "Read",
    "ReadOnceClient",
    "answering",
    "keep_answer",
    "kept_answer",
    "read_once",
]

READS_KEPT: Final = frozenset(
    {
        "get_logged_model",
        "get_metric_history",
        "get_model_version",
        "get_model_version_by_alias",
        "get_registered_model",
        "get_run",
        "list_artifacts",
        "list_logged_model_artifacts",
        "search_logged_models",
        "search_model_versions",
        "search_registered_models",
        "search_runs",
    }
)
"""The `MlflowClient` methods whose answers are kept for the span of one gathering."""
Read = tuple[str, tuple[Any, ...], Mapping[str, Any]]
"""One read: the client's method, its positional and its keyword arguments."""
_WAIT_S: Final = 120.0
"""How long a read waits for the same read under way in another thread before reading itself."""


def _frozen(value: Any) -> Hashable:
    """`value` as a hashable key; raises TypeError for what cannot be one."""
    if isinstance(value, list | tuple):
        return (type(value).__name__, *(_frozen(v) for v in value))
    if isinstance(value, dict):
        return ("dict", *sorted((str(k), _frozen(v)) for k, v in value.items()))
    hash(value)
    return cast(Hashable, value)


def _key(name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Hashable:
    """The key of the read `name(*args, **kwargs)`; raises TypeError when there can be none."""
    return (name, _frozen(args), _frozen(dict(kwargs)))


def _by_number(name: str, args: tuple[Any, ...], kwargs: dict[str, Any], value: Any) -> Hashable:
    """The key of `get_model_version(model, "N")` for the version a by-alias read returned, or
    None for any other read."""
    if name != "get_model_version_by_alias" or len(args) != 2 or kwargs:
        return None
    model, version = args[0], getattr(value, "version", None)
    if not isinstance(model, str) or getattr(value, "name", model) != model or version is None:
        return None
    return _key("get_model_version", (model, str(version)), {})


class ReadOnceClient:
    """`client`, with the reads in `READS_KEPT` answered once per distinct arguments.

    Args:
        client: The MLflow client to read through.
    """

    def __init__(self, client: MlflowClient) -> None:
        self._client = client
        self._kept: dict[Hashable, _Kept] = {}
        # Reads under way, by key: set once the read's answer is kept, or it failed.
        self._reading: dict[Hashable, threading.Event] = {}
        self._lock = threading.Lock()
        self.calls = 0
        """Reads that went to MLflow (for tests and benchmarks)."""
        self.repeats = 0
        """Reads answered from an earlier one."""

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name not in READS_KEPT:
            return attribute
        return self._kept_read(name, attribute)

    def _kept_read(self, name: str, read: Callable[..., Any]) -> Callable[..., Any]:
        def kept(*args: Any, **kwargs: Any) -> Any:
            try:
                key = _key(name, args, kwargs)
            except TypeError:
                return read(*args, **kwargs)
            while True:
                with self._lock:
                    kept_copy = self._kept.get(key)
                    if kept_copy is not None:
                        self.repeats += 1
                        break
                    under_way = self._reading.get(key)
                    if under_way is None:
                        mine = self._reading[key] = threading.Event()
                        break
                # A read that never ends is bounded by MLflow's own timeout; past this, read too.
                if not under_way.wait(_WAIT_S):
                    return read(*args, **kwargs)
            if kept_copy is not None:
                return _Kept.copy_of(kept_copy)
            try:
                value = read(*args, **kwargs)
                # The copy is taken before the first caller gets the answer itself: nobody else
                # holds it, so it needs no copy of its own.
                kept_copy = _Kept.of(value)
                also = _by_number(name, args, kwargs, value)
                with self._lock:
                    self.calls += 1
                    self._kept.setdefault(key, kept_copy)
                    if also is not None:
                        self._kept.setdefault(also, kept_copy)
            finally:
                with self._lock:
                    del self._reading[key]
                mine.set()
            return value

        return kept

    def keep(self, name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any], value: Any) -> None:
        """Keep `value` as the answer to `name(*args, **kwargs)`, unless that read has one.

        Raises:
            ValueError: `name` is not a read this client keeps.
        """
        if name not in READS_KEPT:
            raise ValueError(f"{name!r} is not a read that is kept")
        key = _key(name, args, kwargs)
        # The caller keeps `value` too, so what is kept is a copy, as for a read's answer.
        kept_copy = _Kept.of(value)
        with self._lock:
            self._kept.setdefault(key, kept_copy)

    @contextlib.contextmanager
    def answering(self, reads: Sequence[Read]) -> Iterator[None]:
        """While the block runs, each of `reads` not kept or under way already waits for it, as
        for the same read under way in another thread; the block keeps their answers (`keep`).
        One the block leaves without an answer then reads for itself.

        Raises:
            ValueError: A read is not one this client keeps.
            TypeError: A read's arguments cannot be a key.
        """
        for name, _, _ in reads:
            if name not in READS_KEPT:
                raise ValueError(f"{name!r} is not a read that is kept")
        keys = [_key(name, args, kwargs) for name, args, kwargs in reads]
        mine: dict[Hashable, threading.Event] = {}
        with self._lock:
            for key in keys:
                if key not in self._kept and key not in self._reading and key not in mine:
                    mine[key] = self._reading[key] = threading.Event()
        try:
            yield
        finally:
            with self._lock:
                for key in mine:
                    del self._reading[key]
            for event in mine.values():
                event.set()

    def peek(self, name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any | None:
        """A copy of the answer kept for `name(*args, **kwargs)`, or None; never reads."""
        try:
            key = _key(name, args, kwargs)
        except TypeError:
            return None
        with self._lock:
            kept_copy = self._kept.get(key)
            if kept_copy is None:
                return None
            self.repeats += 1
        return _Kept.copy_of(kept_copy)


class _Kept:
    """A kept answer, as its pickle's bytes, from which each repeat gets its own deep copy.

    Through pickle: MLflow's entities (runs with their metrics, params, tags and inputs, metric
    histories, logged models, versions) are plain objects, which a pickle round trip copies as
    `copy.deepcopy` does, in about a third of its time; and the bytes are taken once, so a
    repeat pays only for loading them. An answer pickle refuses is kept as a deep copy and
    copied again for each repeat. The bytes never leave this process.
    """

    __slots__ = ("_pickled", "_value")

    def __init__(self, pickled: bytes | None, value: Any) -> None:
        self._pickled = pickled
        self._value = value

    @classmethod
    def of(cls, value: Any) -> _Kept:
        try:
            return cls(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), None)
        except (pickle.PickleError, TypeError, AttributeError):
            return cls(None, copy.deepcopy(value))

    @staticmethod
    def copy_of(kept: _Kept) -> Any:
        if kept._pickled is not None:
            return pickle.loads(kept._pickled)
        return copy.deepcopy(kept._value)


def keep_answer(
    client: MlflowClient,
    name: str,
    args: tuple[Any, ...],
    value: Any,
    kwargs: Mapping[str, Any] | None = None,
) -> None:
    """Keep `value` as `client`'s answer to `name(*args, **kwargs)` when `client` is a read-once
    client without an answer to that read yet; any other client keeps nothing.

    Args:
        client: The client a later read goes through.
        name: The read, one of `READS_KEPT`.
        args: Its positional arguments, as the later read passes them.
        value: What that read would answer now.
        kwargs: Its keyword arguments, as the later read passes them.
    """
    if isinstance(client, ReadOnceClient):
        client.keep(name, args, kwargs or {}, value)


def answering(
    client: MlflowClient, reads: Sequence[Read]
) -> contextlib.AbstractContextManager[None]:
    """While the block runs, `reads` through a read-once `client` wait for the answers it keeps
    (`ReadOnceClient.answering`); with any other client the block changes nothing.

    Args:
        client: The client the reads go through.
        reads: The reads the block answers.
    """
    if isinstance(client, ReadOnceClient):
        return client.answering(reads)
    return contextlib.nullcontext()


def kept_answer(
    client: MlflowClient,
    name: str,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any] | None = None,
) -> Any | None:
    """What a read-once `client` keeps as its answer to `name(*args, **kwargs)` (a copy), or
    None when it keeps none or is not a read-once client; never reads."""
    if isinstance(client, ReadOnceClient):
        return client.peek(name, args, kwargs or {})
    return None


def read_once(client: MlflowClient) -> MlflowClient:
    """`client` seen through a fresh `ReadOnceClient`, typed as the client it stands for (it
    forwards every attribute it does not keep)."""
    return cast("MlflowClient", ReadOnceClient(client))
