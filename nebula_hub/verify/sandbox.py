"""A pool of pre-started sandbox workers that run untrusted Python programs in isolation.

Each worker is a fresh interpreter (`_sandbox_zygote.py`) started with an empty environment; it forks one isolated
child per run, which is several times cheaper than starting an interpreter per test run. See the worker module for
what "isolated" means in each mode. This module is the host side: starting, feeding and restarting workers.

Run one job by hand:

    python -c "from nebula_hub.verify.sandbox import SandboxPool; print(SandboxPool(1).isolation)"
"""

import atexit
import itertools
import json
import logging
import os
import queue
import struct
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nebula_hub.errors import NebulaError


logger = logging.getLogger(__name__)

ZYGOTE = Path(__file__).with_name("_sandbox_zygote.py")
ISOLATION_MODES = ("auto", "namespace", "guard")


@dataclass
class SandboxLimits:
    """Resource limits for one run.

    Fields:
        memory_bytes: address-space limit (`RLIMIT_AS`), defaults to 1 GiB.
        processes: processes and threads the run may have at once (`RLIMIT_NPROC`), defaults to 32.
        file_bytes: largest file the run may write (`RLIMIT_FSIZE`), defaults to 16 MiB.
        tmpfs_bytes: size of the run's private /tmp working directory (namespace mode), defaults to 64 MiB.
        output_bytes: stdout kept; a run printing more is stopped and fails, defaults to 4 MiB.
    """

    memory_bytes: int = 1 << 30
    processes: int = 32
    file_bytes: int = 16 << 20
    tmpfs_bytes: int = 64 << 20
    output_bytes: int = 4 << 20


def _namespaces_available() -> bool:
    if os.geteuid() != 0 or not sys.platform.startswith("linux"):
        return False
    # A throwaway child proves unshare works here (containers may forbid it even to root).
    probe = "import ctypes,sys; sys.exit(ctypes.CDLL(None, use_errno=True).unshare(0x40000000 | 0x00020000) != 0)"
    try:
        return subprocess.run([sys.executable, "-I", "-c", probe], env={}, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


_detected: str | None = None


def detect_isolation() -> str:
    """`"namespace"` when this process may create namespaces (root with `unshare`), else `"guard"`.

    Example:
        >>> detect_isolation() in ("namespace", "guard")
        True
    """
    global _detected
    if _detected is None:
        _detected = "namespace" if _namespaces_available() else "guard"
        if _detected == "guard":
            logger.warning(
                "code sandbox: namespaces unavailable (not root or unshare refused); using guard mode: an audit hook "
                "blocks sockets, subprocesses and writes outside the working directory, but native code can bypass "
                "it. Run as root (or in a container that allows unshare) for network/PID/mount isolation."
            )
    return _detected


class SandboxWorker:
    """One pre-started worker process. Not thread-safe: a pool hands each worker to one thread at a time."""

    def __init__(self, isolation: str):
        self.isolation = isolation
        self.proc: subprocess.Popen | None = None
        self.uid: int | None = None
        self._start()

    def _start(self) -> None:
        # Empty environment: no token or setting of the host reaches the worker, let alone the code it runs.
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-u", str(ZYGOTE), self.isolation],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={},
            close_fds=True,
            cwd="/",
        )
        hello = self._read()
        if not hello or not hello.get("ready"):
            self.close()
            reason = (hello or {}).get("error", "the worker exited during start-up")
            raise NebulaError(
                f"code sandbox: could not start a {self.isolation!r} worker: {reason}",
                hint="use isolation='guard' where namespaces are not allowed (not root, or a restricted container)",
            )
        self.uid = hello.get("uid")

    def _read(self) -> dict | None:
        head = self.proc.stdout.read(4)
        if len(head) < 4:
            return None
        (n,) = struct.unpack(">I", head)
        return json.loads(self.proc.stdout.read(n))

    def run(self, job: dict) -> dict:
        """Send one job, wait for its report; restarts the worker if it died."""
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        data = json.dumps(job).encode()
        try:
            self.proc.stdin.write(struct.pack(">I", len(data)) + data)
            self.proc.stdin.flush()
            report = self._read()
        except (BrokenPipeError, OSError):
            report = None
        if report is None:
            self.close()
            return {"error": "the sandbox worker died during the run (restarted for the next one)"}
        return report

    def close(self) -> None:
        if self.proc is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdout.close()
            self.proc = None


class SandboxPool:
    """Pre-started sandbox workers; `run_jobs` spreads jobs over them from threads (the work happens in the workers).

    Args:
        workers (`int`, *optional*): number of workers, defaults to the number of CPUs.
        isolation (`str`, *optional*): `"auto"` (namespaces when allowed, else guard), `"namespace"` or `"guard"`.

    Example:
        >>> from nebula_hub.verify.sandbox import SandboxPool
        >>> with SandboxPool(workers=1) as pool:
        ...     report = pool.run_jobs([{"kind": "stdio", "code": "print(input()[::-1])", "stdin": "abc",
        ...                              "timeout": 5, "n_tests": 1}])[0]
        >>> report["stdout"]
        'cba\\n'
    """

    def __init__(self, workers: int | None = None, isolation: str = "auto", limits: SandboxLimits | None = None):
        if isolation not in ISOLATION_MODES:
            raise NebulaError(f"code sandbox: unknown isolation {isolation!r}", hint=f"use one of {ISOLATION_MODES}")
        self.isolation = detect_isolation() if isolation == "auto" else isolation
        self.limits = limits or SandboxLimits()
        self.size = max(1, workers or os.cpu_count() or 1)
        self._idle: queue.Queue[SandboxWorker] = queue.Queue()
        self._all: list[SandboxWorker] = []
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._closed = False

    def _acquire(self) -> SandboxWorker:
        with self._lock:
            if self._idle.empty() and len(self._all) < self.size:
                w = SandboxWorker(self.isolation)
                self._all.append(w)
                return w
        return self._idle.get()

    def run_job(self, job: dict[str, Any]) -> dict[str, Any]:
        """Run one job on a free worker (blocks while all are busy)."""
        if self._closed:
            raise NebulaError("code sandbox: the pool is closed", hint="create a new SandboxPool")
        job = {"id": next(self._ids), **job}
        limits = {**asdict(self.limits), **job.get("limits", {})}
        limits["cpu_seconds"] = float(job["timeout"]) * max(1, job.get("n_tests", 1))  # CPU budget of the whole run
        job["limits"] = limits
        worker = self._acquire()
        try:
            report = worker.run(job)
        finally:
            self._idle.put(worker)
        report["isolation"] = self.isolation
        return report

    def run_jobs(self, jobs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """Run many jobs, in order of the input, on all workers at once."""
        return list(self.imap(jobs))

    def imap(self, jobs: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        with ThreadPoolExecutor(max_workers=self.size, thread_name_prefix="sandbox") as ex:
            yield from ex.map(self.run_job, jobs)

    def close(self) -> None:
        self._closed = True
        for w in self._all:
            w.close()
        self._all.clear()

    def __enter__(self) -> "SandboxPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_default_pool: SandboxPool | None = None
_default_lock = threading.Lock()


def default_pool() -> SandboxPool:
    """The process-wide pool used when no pool is passed (one worker per CPU, closed at exit)."""
    global _default_pool
    with _default_lock:
        if _default_pool is None or _default_pool._closed:
            _default_pool = SandboxPool()
            atexit.register(_default_pool.close)
        return _default_pool
