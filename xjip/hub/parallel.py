"""Parse in other processes while the job's own process writes.

For a large source, parse processes read and parse it and make each batch ready for the store
without touching it (raw text and content hash, places, owner-name keys, rows converted for the
dialect: `writers.prepare_patents`). The job's process keeps what needs the database (keys met
earlier in the job, unchanged records, owner entities, row ids, the upserts, the checkpoint)
and commits batch after batch, in order.

When the importer can step over records cheaply (`can_shard`: CSV rows, concatenated XML
documents), there is one parse process per core, each parsing every n-th window (batch) of the
source (`importers.base.Shard`); otherwise, and when resuming, a single one reads ahead of the
writer. On the 2-core reference machine the parsing and the writing then share both cores
(bench/RESULTS.md, bench/PROFILE.md).

A parse process is a fresh interpreter (`python -m xjip.hub.parallel`), not a fork: the web
server runs imports in a thread, and forking a threaded process is unsafe; nor
`multiprocessing`'s spawn, which re-runs the caller's main script. It opens the source again
by name (an open file or a zip member cannot be handed over) and talks over a pipe:
length-prefixed pickles, one batch at a time, so it works one batch ahead of the writer and no
further. When the job's process dies (`kill -9`) the pipe breaks and the parse processes end
with it, so a resumed job never meets a stale one.
"""
from __future__ import annotations

import gc
import os
import pickle
import signal
import struct
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import IO, Any, Iterator

from xjip.settings import Settings

_HEADER = struct.Struct("<Q")


class ParseProcessError(RuntimeError):
    """The parse process failed outside any record (a bug, or it was killed)."""


def use_child(settings: Settings, source_bytes: int | None) -> bool:
    """A child pays about a second to start (interpreter, imports, gazetteer): worth it for
    large sources, on a machine with a second core."""
    threshold = settings.import_parallel_mb
    if threshold < 0 or (os.cpu_count() or 1) < 2:
        return False
    return (source_bytes or 0) >= threshold * (1 << 20)


def shard_count(importer: Any, source: Any) -> int:
    """Parse processes for a source: one per core when the importer can split the source into
    records cheaply (`can_shard`), else one."""
    can_shard = getattr(importer, "can_shard", None)
    if can_shard is None or not can_shard(source):
        return 1
    return max(1, min(os.cpu_count() or 1, MAX_SHARDS))


MAX_SHARDS = 4


def _write(out: IO[bytes], obj: Any) -> None:
    """One framed message, written by `os.write` until all of it is out. Not through the
    stream's BufferedWriter: on Python 3.11, when a process stopped in a pipe write is continued
    (Ctrl-Z and `fg` stop the parse processes too), its `write` of a large message can return
    with the tail unwritten, and the next message starts mid-frame (tests/hub/test_parallel.py)."""
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    out.flush()
    fd = out.fileno()
    for part in (_HEADER.pack(len(data)), data):
        view = memoryview(part)
        while view:
            view = view[os.write(fd, view):]


def bulk_gc() -> tuple[int, int, int]:
    """Collector settings for a process that builds and drops batch after batch of small
    containers (rows, tuples, dicts) holding no reference cycles: what exists now (modules,
    reference data) is frozen out of collections, and young collections run every 100,000
    net allocations instead of 700; each otherwise rescans the batch being built. Returns the
    previous thresholds."""
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 20, 100)
    return before


def normal_gc(thresholds: tuple[int, int, int]) -> None:
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def release_memory() -> None:
    """Give the heap freed by a batch back to the system (glibc keeps it otherwise, and three
    processes each holding their high-water mark add up)."""
    if _malloc_trim is not None:
        _malloc_trim(0)


def _find_malloc_trim() -> Any:
    try:
        import ctypes

        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


_malloc_trim = _find_malloc_trim()


def _read(inp: IO[bytes]) -> Any:
    head = inp.read(_HEADER.size)
    if len(head) < _HEADER.size:
        raise EOFError
    size = _HEADER.unpack(head)[0]
    data = inp.read(size)
    if len(data) < size:
        raise EOFError
    # Unpickling a batch creates some 10^5 containers: with the cyclic collector on, it runs
    # every few hundred of them over the growing heap, 6x the unpickling itself. A batch holds
    # no cycles; the collector runs again right after.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return pickle.loads(data)
    finally:
        if enabled:
            gc.enable()


class ChildReader:
    """The messages of a parse process: ("batch", parts, position, bytes_read, finished), then
    possibly ("source_error", rejection). A crash of the child raises ParseProcessError."""

    def __init__(self, settings: Settings, path: str, source_name: str, importer: Any, options: dict[str, Any],
                 skip: int, batch_size: int, max_batch_bytes: int, job_id: int,
                 shard: tuple[int, int] | None = None):
        # The importer is found again by name in the child, after importing the module that
        # registers it (a plugin's or a test's importer, not only the built-in ones).
        module = importer.__name__ if isinstance(importer, ModuleType) else type(importer).__module__
        task = {"settings": settings, "path": path, "source_name": source_name,
                "importer": (module, importer.name), "options": options, "skip": skip,
                "batch_size": batch_size, "max_batch_bytes": max_batch_bytes, "job_id": job_id,
                "shard": shard, "sys_path": list(sys.path)}
        self._stderr = tempfile.TemporaryFile()
        # the same xjip as this process, whatever the working directory holds
        here = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([here, *filter(None, [os.environ.get("PYTHONPATH")])])}
        self._process = subprocess.Popen([sys.executable, "-m", "xjip.hub.parallel"], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=self._stderr, bufsize=1 << 20, env=env,
                                         cwd=here)
        assert self._process.stdin is not None and self._process.stdout is not None
        _write(self._process.stdin, task)
        self._process.stdin.close()

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        assert self._process.stdout is not None
        while True:
            try:
                msg = _read(self._process.stdout)
            except EOFError:
                code = self._process.wait()
                raise ParseProcessError(f"parse process ended unexpectedly (exit code {code}) / 解析进程意外退出\n"
                                        f"{self._stderr_tail()}") from None
            if msg[0] == "crash":
                raise ParseProcessError(f"parse process failed / 解析进程出错:\n{msg[1]}")
            if msg[0] == "end":
                return
            yield msg

    def _stderr_tail(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read()[-4000:].decode("utf-8", "replace")

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._process.wait()
        self._stderr.close()


def child_main() -> None:
    # Ctrl-C reaches the whole process group: the job's process alone handles it (marks the job
    # interrupted, then ends this process); a parse process reporting it as a crash would race that.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing else may write into the message pipe
    task = _read(sys.stdin.buffer)
    try:
        import importlib

        for entry in task["sys_path"]:
            if entry not in sys.path:
                sys.path.append(entry)
        module, importer_name = task["importer"]
        importlib.import_module(module)

        from xjip.hub.pipeline import produce_batches, produce_windows
        from xjip.hub.store import Store

        store = Store(task["settings"])
        bulk_gc()
        try:
            if task["shard"] is not None:
                messages = produce_windows(store, task["path"], task["source_name"], importer_name, task["options"],
                                           task["shard"], task["batch_size"], task["max_batch_bytes"], task["job_id"])
            else:
                messages = produce_batches(store, task["path"], task["source_name"], importer_name, task["options"],
                                           task["skip"], task["batch_size"], task["max_batch_bytes"], task["job_id"])
            for msg in messages:
                _write(out, msg)
                del msg
                release_memory()
        finally:
            store.dispose()
        _write(out, ("end",))
    except BrokenPipeError:  # the job's process is gone: nobody is reading
        os._exit(0)
    except BaseException:  # noqa: BLE001 - reported to the job's process, which fails the job
        import traceback

        try:
            _write(out, ("crash", traceback.format_exc()))
        except BrokenPipeError:
            os._exit(0)


if __name__ == "__main__":
    child_main()
