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
import time
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
        """One frame from the worker, or `None` when it ended or sent something that is not a whole frame."""
        head = self.proc.stdout.read(4)
        if len(head) < 4:
            return None
        (n,) = struct.unpack(">I", head)
        body = self.proc.stdout.read(n)
        if len(body) < n:
            return None
        try:
            frame = json.loads(body)
        except ValueError:
            return None
        return frame if isinstance(frame, dict) else None

    def run(self, job: dict) -> dict:
        """Send one job, wait for its report. A worker that died, or answered out of turn, is restarted and the run
        reported as an infrastructure failure (`{"error": ...}`), which the pool retries."""
        if self.proc is None or self.proc.poll() is not None:
            try:
                self.close()
                self._start()
            except (NebulaError, OSError) as e:  # e.g. no free process slot on a saturated machine
                self.close()
                return {"error": f"the sandbox worker could not be restarted: {e}"}
        data = json.dumps(job).encode()
        try:
            self.proc.stdin.write(struct.pack(">I", len(data)) + data)
            self.proc.stdin.flush()
            report = self._read()
        except (BrokenPipeError, OSError):
            report = None
        if report is None:
            status = self.proc.poll() if self.proc is not None else None
            self.close()
            how = f" (exit status {status})" if status is not None else ""
            return {"error": f"the sandbox worker died during the run{how}; restarted for the next one"}
        if report.get("id") != job.get("id"):  # out of step with the worker: nothing it says can be trusted
            self.close()
            return {"error": f"the sandbox worker answered run {report.get('id')!r} to run {job.get('id')!r}"}
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


def infrastructure_failure(report: dict[str, Any]) -> str | None:
    """Why a run's report says nothing about the program (the sandbox failed, not the candidate), else `None`.

    A run is the sandbox's failure when the worker reported an error (it died, could not fork, its monitor failed)
    or when the run never reached the harness's `ready` event: until then no candidate code has run, so whatever
    went wrong (a set-up step, a start-up slower than the time limit) is ours.

    Example:
        >>> infrastructure_failure({"error": "the sandbox worker died during the run"})
        'the sandbox worker died during the run'
        >>> infrastructure_failure({"events": [{"event": "ready"}], "killed_for": "timeout"}) is None
        True
    """
    if "error" in report:
        return str(report["error"])
    if not any(e.get("event") == "ready" for e in report.get("events", [])):
        what = "start-up exceeded the time limit" if report.get("killed_for") else "set-up failed"
        return f"the sandbox could not start the run ({what}): {report.get('stderr_tail', '')[-300:].strip()}"
    return None


class SandboxPool:
    """Pre-started sandbox workers; `run_jobs` spreads jobs over them from threads (the work happens in the workers).

    A run that failed because of the sandbox itself (see `infrastructure_failure`: a worker that died, a fork refused
    on a saturated machine) is rerun on a fresh worker, up to `retries` times, before its report (with `"error"`)
    is returned: callers see such errors only when the failure persists. `stats` counts runs, retries and errors.

    Args:
        workers (`int`, *optional*): number of workers, defaults to the number of CPUs.
        isolation (`str`, *optional*): `"auto"` (namespaces when allowed, else guard), `"namespace"` or `"guard"`.
        limits (`SandboxLimits`, *optional*): resource limits of each run, defaults to `SandboxLimits()`.
        retries (`int`, *optional*): reruns of a run the sandbox failed, defaults to 3.

    Example:
        >>> from nebula_hub.verify.sandbox import SandboxPool
        >>> with SandboxPool(workers=1) as pool:
        ...     report = pool.run_jobs([{"kind": "stdio", "code": "print(input()[::-1])", "stdin": "abc",
        ...                              "timeout": 5, "n_tests": 1}])[0]
        >>> report["stdout"]
        'cba\\n'
    """

    def __init__(self, workers: int | None = None, isolation: str = "auto", limits: SandboxLimits | None = None,
                 retries: int = 3):
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
        self.retries = max(0, int(retries))
        self.stats = {"runs": 0, "retries": 0, "infra_errors": 0}  # infra_errors: failures still there after retries

    def _acquire(self) -> SandboxWorker:
        with self._lock:
            if self._idle.empty() and len(self._all) < self.size:
                w = SandboxWorker(self.isolation)
                self._all.append(w)
                return w
        return self._idle.get()

    def run_job(self, job: dict[str, Any]) -> dict[str, Any]:
        """Run one job on a free worker (blocks while all are busy); reruns it when the sandbox failed it."""
        if self._closed:
            raise NebulaError("code sandbox: the pool is closed", hint="create a new SandboxPool")
        limits = {**asdict(self.limits), **job.get("limits", {})}
        limits["cpu_seconds"] = float(job["timeout"]) * max(1, job.get("n_tests", 1))  # CPU budget of the whole run
        failures = []
        for attempt in range(1 + self.retries):
            if attempt:
                time.sleep(min(2.0, 0.1 * 2 ** (attempt - 1)))  # let a transient shortage (processes, memory) pass
            report = self._run_once({**job, "id": next(self._ids), "limits": limits})
            why = infrastructure_failure(report)
            if why is None:
                break
            failures.append(why)
            if attempt < self.retries:
                logger.info("code sandbox: run failed in the sandbox (%s); retrying (%d/%d)", why, attempt + 1,
                            self.retries)
        with self._lock:
            self.stats["runs"] += 1
            self.stats["retries"] += len(failures) - (why is not None)
            self.stats["infra_errors"] += why is not None
        if why is not None:
            logger.warning("code sandbox: run failed in the sandbox %d times: %s", len(failures), failures[-1])
            report = {"error": f"{why} (failed {len(failures)} times)", "stderr_tail": report.get("stderr_tail", "")}
        report["attempts"] = len(failures) + (why is None)
        report["isolation"] = self.isolation
        return report

    def _run_once(self, job: dict[str, Any]) -> dict[str, Any]:
        try:
            worker = self._acquire()
        except OSError as e:  # starting a worker failed for want of a resource (processes, memory): transient
            return {"error": f"could not start a sandbox worker: {e}"}
        try:
            return worker.run(job)
        finally:
            self._idle.put(worker)

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
