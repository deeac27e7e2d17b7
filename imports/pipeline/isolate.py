"""Reading a file in a child process under a memory, CPU and wall-clock limit.

A hostile or merely huge spreadsheet must cost one child process, never the web or worker process
that asked for it: :func:`read_upload_isolated` runs :func:`~imports.pipeline.read.read_upload` in
a child forked from a small fork server (started once per process, with the pipeline modules
already imported, so a child starts in milliseconds). The child first limits itself
(``RLIMIT_AS``: its address space may grow by at most ``memory_bytes``; ``RLIMIT_CPU``), then
reads, and pickles the result (or the :class:`PipelineError`) into a temporary file that the
parent loads. The parent waits at most ``wall_seconds`` and kills the child after that. A child
that dies (out of memory, out of CPU time, killed) becomes a :class:`PipelineError` with code
``read_limit`` whose message states the limit.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pickle
import resource
import select
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .errors import PipelineError

logger = logging.getLogger(__name__)

_SERVER_LOCK = threading.Lock()
_SERVER: subprocess.Popen[bytes] | None = None
_SERVER_OWNER = 0
# The last reader child's {"cpu_s", "peak_rss_mb"} (benchmarks, logs): a child forked from the
# fork server, so the parent's own usage figures never include it.
LAST_CHILD_USAGE: dict[str, float] = {}


@dataclass(frozen=True)
class ChildLimits:
    """What one read may cost: address space added to the child's own (bytes), CPU seconds,
    and wall-clock seconds before the parent kills it."""

    memory_bytes: int = 2 * 1024**3
    cpu_seconds: int = 120
    wall_seconds: float = 180.0


def _vm_size() -> int:
    """This process's current address-space size in bytes (Linux), 0 when unknown."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _limit_self(memory_bytes: int, cpu_seconds: int) -> None:
    cap = _vm_size() + memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    cpu = max(1, int(cpu_seconds))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))


def _child(request: dict[str, Any]) -> None:
    """The forked reader: limit itself, read, pickle the outcome, exit. Never returns."""
    status = 0
    try:
        devnull = os.open(os.devnull, os.O_RDWR)
        # The reader speaks through its result file only (a native crash message included).
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        _limit_self(request["memory_bytes"], request["cpu_seconds"])
        from .read import ReadLimits, read_upload

        options = dict(request["options"])
        if options.get("limits") is not None:
            options["limits"] = ReadLimits(**options["limits"])
        try:
            result = read_upload(**options)
            _frame_to_ipc(result, request["out"] + ".arrow")
            outcome: tuple[str, Any] = ("ok", result)
        except PipelineError as exc:
            outcome = ("error", (exc.code, exc.message, exc.details))
        except MemoryError:
            outcome = ("limit", "memory")
        except Exception as exc:  # anything else: report its kind, never a traceback
            outcome = ("failed", type(exc).__name__)
        with open(request["out"], "wb") as handle:
            pickle.dump(outcome, handle, protocol=pickle.HIGHEST_PROTOCOL)
    except MemoryError:
        status = 3
    except BaseException:
        status = 4
    finally:
        os._exit(status)


def _frame_to_ipc(result: Any, path: str) -> None:
    """Move the frame's columns (arrow arrays already) into an Arrow IPC file next to the
    pickle: the parent reads them back without converting a single cell."""
    import pyarrow as pa

    frame = result.frame
    arrays = [pa.chunked_array(frame[c].array.__arrow_array__()) for c in frame.columns]
    arrays.append(pa.chunked_array([pa.array(frame.index.to_numpy(), pa.int64())]))
    table = pa.Table.from_arrays(arrays, names=[f"c{i}" for i in range(len(arrays))])
    with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    result.frame = list(frame.columns)


def _frame_from_ipc(result: Any, path: str) -> None:
    import pandas as pd
    import pyarrow as pa

    # Mapped, not copied: the pages stay valid after the temporary file is removed.
    table = pa.ipc.open_file(pa.memory_map(path)).read_all()
    names = result.frame
    index = pd.Index(table.column(len(names)).to_numpy(), name="row")
    if len(index) and (index[1:] - index[:-1] == 1).all():
        index = pd.RangeIndex(int(index[0]), int(index[0]) + len(index), name="row")
    data = {
        name: pd.Series(pd.array(table.column(i), dtype="str"), index=index, copy=False)
        for i, name in enumerate(names)
    }
    result.frame = pd.DataFrame(data, index=index, copy=False)


def _warm_up() -> None:
    """A first read pays for lazy imports and registries once, here, not in every child."""
    from . import read

    read.read_upload(b"Datum;Menge\n2024-01-31;1,5\n", filename="warm-up.csv")
    import python_calamine  # noqa: F401
    from defusedxml import ElementTree  # noqa: F401


def _serve() -> None:
    """The fork server: reads one JSON request per line on stdin, forks a reader for it, answers
    the reader's pid and then its exit code, one line each."""
    _warm_up()

    answers = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    for line in sys.stdin.buffer:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request)
        answers.write(f"{pid}\n".encode())
        _, status, usage = os.wait4(pid, 0)
        cpu = usage.ru_utime + usage.ru_stime
        # The exit code, then the reader's CPU seconds and peak RSS (kB), for LAST_CHILD_USAGE.
        answers.write(f"{os.waitstatus_to_exitcode(status)} {cpu:.3f} {usage.ru_maxrss}\n".encode())


def _server() -> subprocess.Popen[bytes]:
    global _SERVER, _SERVER_OWNER  # one fork server per process, started on first use
    # A process forked from the owner (an RQ work-horse) must not share the owner's pipes.
    if _SERVER is None or os.getpid() != _SERVER_OWNER or _SERVER.poll() is not None:
        _SERVER_OWNER = os.getpid()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        # BLAS thread pools reserve memory per thread; Arrow's own pool (which reads
        # OMP_NUM_THREADS) keeps its default size, so CSVs are still parsed on every core.
        for name in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env.setdefault(name, "1")
        _SERVER = subprocess.Popen(  # our own interpreter and module
            [sys.executable, "-m", "imports.pipeline.isolate"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
            env=env,
            close_fds=True,
        )
    return _SERVER


def _read_line(fd: int, timeout: float | None, pending: bytearray) -> str | None:
    """One line from ``fd``; None at end of file or when ``timeout`` seconds pass first.

    ``pending`` holds what was read past the line: the server may send two lines in one write
    (a quick child's process id and its exit code), and the second must not be lost."""
    while b"\n" not in pending:
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            return None
        chunk = os.read(fd, 64)
        if not chunk:
            return None
        pending += chunk
    line, _, rest = bytes(pending).partition(b"\n")
    pending[:] = rest
    return line.decode().strip()


def _run_child(request: dict[str, Any], wall_seconds: float) -> tuple[int | None, bool]:
    """Exit code of the reader child (None when the server died) and whether it was killed
    for taking longer than ``wall_seconds``."""
    for _attempt in range(2):
        server = _server()
        assert server.stdin is not None
        assert server.stdout is not None
        try:
            server.stdin.write(json.dumps(request).encode() + b"\n")
        except (BrokenPipeError, OSError):
            server.kill()
            continue
        fd = server.stdout.fileno()
        pending = bytearray()
        pid_line = _read_line(fd, 30, pending)
        if pid_line is None:
            server.kill()
            server.wait()
            continue
        code_line = _read_line(fd, wall_seconds, pending)
        if code_line is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_line), signal.SIGKILL)
            _read_line(fd, 30, pending)
            return -signal.SIGKILL, True
        code, *usage = code_line.split()
        if len(usage) == 2:
            LAST_CHILD_USAGE.update(cpu_s=float(usage[0]), peak_rss_mb=int(usage[1]) / 1024)
        return int(code), False
    return None, False


def _megabytes(n: int) -> str:
    return f"{n / 1024**2:.0f} MB"


def _limit_error(filename: str, what: str, limits: ChildLimits) -> PipelineError:
    if what == "memory":
        detail = f"needs more than {_megabytes(limits.memory_bytes)} of memory to read"
    elif what == "cpu":
        detail = f"needs more than {limits.cpu_seconds} s of processing to read"
    elif what == "time":
        detail = f"took longer than {limits.wall_seconds:g} s to read"
    else:
        detail = "stopped the reader"
    return PipelineError(
        "read_limit",
        f"{filename} {detail}, the limit for one file. Remove unused rows, columns and sheets "
        "(or split it) and upload it again.",
        filename=filename,
        limit=what,
        memory_bytes=limits.memory_bytes,
        cpu_seconds=limits.cpu_seconds,
        wall_seconds=limits.wall_seconds,
    )


def read_upload_isolated(
    path: str | os.PathLike[str],
    *,
    filename: str,
    limits: ChildLimits | None = None,
    read_limits: Any = None,
    **options: Any,
) -> Any:
    """:func:`~imports.pipeline.read.read_upload` of the file at ``path``, run in a child process
    under ``limits``; returns its :class:`~imports.pipeline.read.ReadResult` or raises its
    :class:`PipelineError` (code ``read_limit`` when the child ran out of memory or time).
    ``read_limits`` (a :class:`~imports.pipeline.read.ReadLimits`) and ``options`` (``sheet``,
    ``header_row``, ``encoding``, ``max_bytes``...) are passed on to the reader."""
    limits = limits or ChildLimits()
    with tempfile.TemporaryDirectory(prefix="ft-read-") as tmp:
        out = str(Path(tmp) / "result.pickle")
        request = {
            "out": out,
            "memory_bytes": limits.memory_bytes,
            "cpu_seconds": limits.cpu_seconds,
            "options": {
                "source": str(path),
                "filename": filename,
                "limits": asdict(read_limits) if read_limits is not None else None,
                **options,
            },
        }
        with _SERVER_LOCK:
            code, timed_out = _run_child(request, limits.wall_seconds)
        outcome = None
        if not timed_out and os.path.exists(out):
            with contextlib.suppress(EOFError, pickle.UnpicklingError), open(out, "rb") as handle:
                outcome = pickle.load(handle)  # noqa: S301 - written by our own child
            if outcome is not None and outcome[0] == "ok":
                _frame_from_ipc(outcome[1], out + ".arrow")
    if timed_out:
        raise _limit_error(filename, "time", limits)
    if outcome is None:
        if code is None:
            logger.error("the file reader server did not answer; is imports.pipeline importable?")
        if code == -signal.SIGXCPU:
            raise _limit_error(filename, "cpu", limits)
        # A native allocation failure aborts (SIGABRT) or segfaults: the memory limit was hit.
        memory_codes = (-signal.SIGABRT, -signal.SIGSEGV, -signal.SIGBUS, -signal.SIGKILL, 3)
        raise _limit_error(filename, "memory" if code in memory_codes else "stopped", limits)
    kind, value = outcome
    if kind == "ok":
        return value
    if kind == "error":
        code_, message, details = value
        raise PipelineError(code_, message, **details)
    if kind == "limit":
        raise _limit_error(filename, value, limits)
    raise PipelineError(
        "damaged",
        f"{filename} cannot be read ({value}). Open it in your spreadsheet program and save it "
        "again.",
        filename=filename,
    )


if __name__ == "__main__":
    _serve()
