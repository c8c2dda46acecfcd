"""Run one quickstart stage in a child process and measure it: wall time and peak memory.

The child and its descendants (datatrove workers, code sandboxes) are sampled from `/proc` every `interval` seconds
(`TreeSampler`). CPU time is reported too, because on a shared machine it tells how much work a stage was whatever
the wall clock says: the larger of `ru_utime + ru_stime` from `os.wait4` (the child and the descendants it waited for)
and the sum over sampled processes of their last seen CPU time (workers nobody waited for). Memory, two figures:

- `peak_rss_mb`: the biggest single process of the stage: the largest `VmHWM` (per-process high-water mark, which
  starts at exec) seen in the tree, and the child's own report at exit (`own_peak_rss_mb`: its `VmHWM` and the
  largest descendant it waited for), which covers the last interval. Not `ru_maxrss` from `os.wait4`: Linux folds the
  spawning process's high-water mark into it at exec, so it can show the parent's peak instead of the stage's; it is
  used only when nothing could be sampled.
- `peak_tree_mb`: the peak, sampled every `interval` seconds, of the summed PSS (proportional set size, so pages
  shared between forked workers are counted once) of the child and all its descendants, from
  `/proc/<pid>/smaps_rollup`. This is what the stage needs from the machine when its workers run at the same time.

Example:
    >>> m = run_measured([sys.executable, "-c", "x = bytearray(50 * 2**20)"], log_path=None)
    >>> m.returncode, m.wall_s > 0
    (0, True)
"""

import contextlib
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Measurement:
    """What a measured child did: exit status, wall seconds, CPU seconds (user + system, the child and the
    descendants it waited for), peak RSS (MiB) and peak summed PSS of its process tree (MiB)."""

    returncode: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    peak_tree_mb: float
    interrupted: bool = False


def _children_map() -> dict[int, list[int]]:
    # psutil is not a dependency; /proc/<pid>/stat gives the parent pid (field 4, after the parenthesised name).
    out: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat[stat.rfind(b")") + 2 :].split()[1])
        out.setdefault(ppid, []).append(int(entry.name))
    return out


def process_tree(pid: int) -> list[int]:
    """`pid` and all its live descendants (Linux `/proc`)."""
    children = _children_map()
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children.get(p, []))
    return tree


def _status_kb(pid: int, keys: tuple[bytes, ...]) -> dict[bytes, int]:
    out: dict[bytes, int] = {}
    for name in ("smaps_rollup", "status"):
        try:
            with open(f"/proc/{pid}/{name}", "rb") as fh:
                for line in fh:
                    key = line.split(b":", 1)[0] + b":"
                    if key in keys:
                        out[key] = int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return out


def _cpu_ticks(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))


def tree_memory_mb(pid: int) -> float:
    """Summed PSS of `pid` and its descendants, in MiB (RSS where PSS is not readable)."""
    total = 0
    for p in process_tree(pid):
        kb = _status_kb(p, (b"Pss:", b"VmRSS:"))
        total += kb.get(b"Pss:", kb.get(b"VmRSS:", 0))
    return total / 1024


class TreeSampler:
    """Samples a process tree: peak summed PSS, the largest per-process high-water mark (VmHWM), and CPU time per
    process (the last value seen, so workers that are never waited for still count)."""

    def __init__(self, pid: int):
        self.pid = pid
        self.peak_tree_kb = 0
        self.max_hwm_kb = 0
        self.cpu_ticks: dict[int, int] = {}

    def sample(self) -> None:
        total = 0
        for p in process_tree(self.pid):
            kb = _status_kb(p, (b"Pss:", b"VmRSS:", b"VmHWM:"))
            total += kb.get(b"Pss:", kb.get(b"VmRSS:", 0))
            self.max_hwm_kb = max(self.max_hwm_kb, kb.get(b"VmHWM:", 0))
            self.cpu_ticks[p] = max(self.cpu_ticks.get(p, 0), _cpu_ticks(p))
        self.peak_tree_kb = max(self.peak_tree_kb, total)

    @property
    def cpu_s(self) -> float:
        return sum(self.cpu_ticks.values()) / os.sysconf("SC_CLK_TCK")


def own_peak_rss_mb() -> float:
    """Peak RSS in MiB of this process since its exec, or of the largest child process it waited for.

    Example:
        >>> own_peak_rss_mb() > 1
        True
    """
    hwm_kb = 0
    with contextlib.suppress(OSError):
        with open("/proc/self/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmHWM:"):
                    hwm_kb = int(line.split()[1])
    if not hwm_kb:  # no /proc: ru_maxrss (KiB on Linux) is the best there is
        hwm_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return max(hwm_kb, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024


def run_measured(
    cmd: list[str],
    log_path: str | Path | None,
    env: dict[str, str] | None = None,
    interval: float = 0.5,
    on_tick: Callable[[float], None] | None = None,
) -> Measurement:
    """Run `cmd` (output appended to `log_path`, or inherited when None) and measure it until it exits.

    The child gets its own session, so Ctrl-C here stops the whole stage (its workers included) and is reported as
    `interrupted` rather than raised mid-measurement.
    """
    log = open(log_path, "ab") if log_path is not None else None
    t0 = time.perf_counter()
    try:
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT if log else None, stdin=subprocess.DEVNULL, env=env,
            start_new_session=True,
        )  # fmt: skip
    finally:
        if log is not None:
            log.close()
    sampler, interrupted = TreeSampler(proc.pid), False
    status, rusage = None, None
    try:
        while True:
            # os.wait4 (not Popen.wait) because it also returns the child's resource usage.
            pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            sampler.sample()
            if on_tick is not None:
                on_tick(time.perf_counter() - t0)
            time.sleep(interval)
    except KeyboardInterrupt:
        interrupted = True
        status, rusage = _stop_group(proc.pid)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Measurement(
        returncode=proc.returncode,
        wall_s=time.perf_counter() - t0,
        # Both are lower bounds: rusage misses descendants nobody waited for, sampling misses the last interval.
        cpu_s=max(rusage.ru_utime + rusage.ru_stime, sampler.cpu_s),
        peak_rss_mb=max(sampler.max_hwm_kb, rusage.ru_maxrss if not sampler.max_hwm_kb else 0) / 1024,
        peak_tree_mb=sampler.peak_tree_kb / 1024,
        interrupted=interrupted,
    )


def _stop_group(pid: int, timeout: float = 10.0):
    """SIGTERM the child's process group, SIGKILL it after `timeout` seconds; returns the child's wait4 status."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status, rusage = os.wait4(pid, os.WNOHANG)
        if done:
            return status, rusage
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    _, status, rusage = os.wait4(pid, 0)
    return status, rusage


if __name__ == "__main__":  # pragma: no cover - manual check: python -m nebula_hub.quickstart.measure CMD...
    print(run_measured(sys.argv[1:], log_path=None))
