"""The sandbox worker process: a pre-started interpreter that forks one isolated child per code run.

Started by `nebula_hub.verify.sandbox.SandboxWorker` as `python -I _sandbox_zygote.py MODE` with an empty environment.
It is deliberately stdlib-only and imports nothing from nebula_hub, so it starts fast and nothing in the host
process (tokens, caches, open files) can reach the code it runs. It talks to its parent over stdin/stdout with
length-prefixed JSON frames: one job in, one report out.

Isolation (`MODE`):
- `namespace` (root with unshare): the worker enters its own network namespace (no interface but a downed loopback)
  and mount namespace, chroots into a tmpfs holding read-only bind mounts of the OS and the Python installation, and
  for each run forks a monitor that creates a new PID and mount namespace. The run's child is PID 1 there: it mounts a
  fresh /proc and a fresh tmpfs /tmp (its working directory), drops to a per-worker uid with no supplementary groups,
  sets rlimits and runs the harness. When it exits the kernel kills every process left in its PID namespace (setsid
  and double-fork cannot escape) and the tmpfs disappears with the mount namespace.
- `guard` (no privileges): own session and process group, rlimits, a fresh temporary directory, a Python audit hook
  refusing sockets, subprocesses, ctypes library loading, signals to other processes and writes outside the working
  directory; leftovers are found by a marker environment variable in /proc and killed. Best effort: native code can
  bypass an audit hook, which the result reports.

Time limits: each test gets `timeout` seconds of charged time (wall-clock time minus the time the run waited for a
CPU, from the scheduler's statistics), so a loaded machine does not turn a correct program into a timeout; the
whole run also has a CPU-time rlimit and a hard wall-clock cap. Any failure of the worker itself (a refused fork, a
bug) is reported as `{"error": ...}` after releasing everything the run took; the worker keeps serving, and the
host pool retries such runs (`nebula_hub.verify.sandbox.infrastructure_failure`).

The harness reports each test's outcome on a private pipe, every line tagged with a per-run nonce, and ends with a
`done` line; the worker forwards these events unchanged and the host decides the verdict. A program that exits early
(`os._exit(0)`), dies by a signal or prints fake results on stdout therefore never reads as a pass.
"""

import ctypes
import errno
import json
import os
import select
import signal
import struct
import sys
import time


# Modules imported once here so each forked run gets them for free (the point of a pre-started worker).
for _name in (
    "array", "bisect", "cmath", "collections", "copy", "dataclasses", "datetime", "decimal", "enum", "fractions",
    "functools", "hashlib", "heapq", "io", "itertools", "math", "numbers", "operator", "queue", "random", "re",
    "statistics", "string", "textwrap", "typing", "unicodedata", "traceback", "ast", "builtins", "types", "gc",
    "resource", "threading", "tempfile", "shutil",
):  # fmt: skip
    __import__(_name)

import builtins  # noqa: E402
import operator as _op  # noqa: E402
import threading  # noqa: E402


CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET = 0x00020000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 1, 4, 36, 38
SANDBOX_ROOT = "/tmp/nebula-sandbox-root"
_libc = ctypes.CDLL(None, use_errno=True)
# The modules whose attributes a candidate could monkeypatch to fool test code; restored before the tests run.
PROTECTED_MODULES = ("builtins", "math", "cmath", "operator", "functools", "itertools", "collections", "re",
                     "string", "heapq", "bisect", "json", "copy", "fractions", "decimal", "statistics", "types")


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(src, target, fstype, flags, data=None):
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    _check(_libc.mount(enc(src), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")


def _prctl(option, arg):
    _libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0)


# ---------------------------------------------------------------------------------------------------------- framing
def read_frame(stream):
    head = stream.read(4)
    if len(head) < 4:
        return None
    (n,) = struct.unpack(">I", head)
    return json.loads(stream.read(n))


def write_frame(stream, obj):
    payload = json.dumps(obj).encode()
    data = memoryview(struct.pack(">I", len(payload)) + payload)
    # With `-u` stdout is a raw FileIO whose write() may write only part of a large report: loop until all is out.
    while data:
        data = data[stream.write(data) :]
    stream.flush()


# ---------------------------------------------------------------------------------------------------- worker set-up
def _expose_paths():
    """Host paths the chroot needs, read-only: the OS libraries and every directory of this Python installation."""
    paths = ["/usr", "/etc", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32", "/opt"]
    for p in [sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable))]:
        paths.append(p)
    paths += [p for p in sys.path if p and os.path.isdir(p)]
    real = []
    for p in paths:
        if os.path.islink(p) and os.path.dirname(p) == "/":
            real.append(p)  # merged-/usr symlinks (/bin -> usr/bin) are recreated as links, not mounted
            continue
        rp = os.path.realpath(p)
        if os.path.isdir(rp):
            real.append(rp)
    real = sorted(set(real), key=len)
    kept = []
    for p in real:
        if not any(p == k or p.startswith(k.rstrip("/") + "/") for k in kept if not os.path.islink(k)):
            kept.append(p)
    return kept


def setup_namespace_root():
    """Enter private network and mount namespaces and chroot into a read-only view of the OS and Python."""
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWNET), "unshare(network, mount)")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing we mount may propagate back to the host
    # The new root lives on a tmpfs mounted over /tmp inside our namespace: the host's /tmp is never touched.
    _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=755")
    root = SANDBOX_ROOT
    os.makedirs(root)
    _mount("tmpfs", root, "tmpfs", MS_NOSUID, "size=16m,mode=755")
    for p in _expose_paths():
        target = root + p
        if os.path.islink(p):
            os.symlink(os.readlink(p), target)
            continue
        os.makedirs(target, mode=0o755, exist_ok=True)
        _mount(p, target, None, MS_BIND)
        _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.makedirs(root + "/dev", mode=0o755)
    for dev in ("null", "zero", "full", "random", "urandom"):
        open(root + "/dev/" + dev, "w").close()
        _mount("/dev/" + dev, root + "/dev/" + dev, None, MS_BIND)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{root}/dev/{name}")
    for d in ("/proc", "/tmp"):
        os.makedirs(root + d, mode=0o755, exist_ok=True)
    # The other world-writable places all point at the run's private /tmp: one tmpfs mount per run, not four.
    for d in ("/dev/shm", "/var/tmp", "/run"):
        if os.path.lexists(root + d) and not os.path.islink(root + d):
            os.rmdir(root + d) if not os.listdir(root + d) else None
        if not os.path.lexists(root + d):
            os.makedirs(os.path.dirname(root + d), mode=0o755, exist_ok=True)
            os.symlink("/tmp", root + d)
    os.chroot(root)
    os.chdir("/")
    _mount(None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID)


# ------------------------------------------------------------------------------------------------- in-sandbox child
def _plain(x, depth=0):
    """True when `x` is built only from builtin value types, so comparing it cannot run candidate code."""
    t = type(x)
    if t in (int, float, complex, str, bytes, bool, type(None)):
        return True
    if depth > 64:
        return False
    if t in (list, tuple, set, frozenset):
        return all(_plain(e, depth + 1) for e in x)
    if t is dict:
        return all(_plain(k, depth + 1) and _plain(v, depth + 1) for k, v in x.items())
    return False


_CMP_DUNDERS = ("__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__bool__", "__len__", "__contains__")
_NATIVE = ("wrapper_descriptor", "method_descriptor", "builtin_function_or_method", "NoneType")


def _trusted(x, depth=0):
    """Plain data, or an object whose comparison methods were not written by the candidate (Fraction, Counter...)."""
    if _plain(x):
        return True
    if depth > 64:
        return False
    for klass in type.__dict__["__mro__"].__get__(type(x)):
        d = type.__dict__["__dict__"].__get__(klass)
        for name in _CMP_DUNDERS:
            if name not in d:
                continue
            meth = d[name]
            code = getattr(meth, "__code__", None) if type(meth).__name__ == "function" else None
            if code is not None:
                if code.co_filename == "<candidate>":
                    return False
            elif type(meth).__name__ not in _NATIVE:
                return False
    if isinstance(x, (list, tuple, set, frozenset)):
        return all(_trusted(e, depth + 1) for e in x)
    if isinstance(x, dict):
        return all(_trusted(k, depth + 1) and _trusted(v, depth + 1) for k, v in x.items())
    return True


def _encode(x, depth=0):
    """Encode a returned value as JSON the host can rebuild; only exact builtin types are accepted."""
    t = type(x)
    if depth > 64:
        raise ValueError("value nested too deeply")
    if t in (bool, int, str) or x is None:
        return x
    if t is float:
        return x if x == x and x not in (float("inf"), float("-inf")) else {"__float__": repr(x)}
    if t is complex:
        return {"__complex__": [x.real, x.imag]}
    if t is bytes:
        return {"__bytes__": x.hex()}
    if t is list:
        return [_encode(e, depth + 1) for e in x]
    if t is tuple:
        return {"__tuple__": [_encode(e, depth + 1) for e in x]}
    if t in (set, frozenset):
        return {"__set__": [_encode(e, depth + 1) for e in x]}
    if t is dict:
        return {"__dict__": [[_encode(k, depth + 1), _encode(v, depth + 1)] for k, v in x.items()]}
    raise TypeError(f"returned a {type.__dict__['__name__'].__get__(t)}, not a builtin value")


def _describe(exc):
    """Exception text that never calls candidate-defined methods (a hostile __str__ could lie or hang)."""
    t = type(exc)
    name = type.__dict__["__name__"].__get__(t)
    if t.__module__ == "builtins" and all(type(a) in (str, int, float) for a in exc.args):
        return f"{name}: {', '.join(str(a) for a in exc.args)}"[:500]
    return name


def _harness(job, nonce, res_fd):
    """Run the candidate and the tests in this process; report each outcome on `res_fd` tagged with `nonce`."""
    write, dumps, now = os.write, json.dumps, time.monotonic
    tag = nonce.encode() + b" "

    def send(obj):
        data = tag + dumps(obj).encode() + b"\n"
        while data:
            data = data[write(res_fd, data) :]

    kind, tests = job["kind"], job.get("tests", [])
    pristine_builtins = dict(builtins.__dict__)
    protected = {m: dict(vars(sys.modules[m])) for m in PROTECTED_MODULES if m in sys.modules}
    protected_modules = {m: sys.modules[m] for m in protected}
    module_name = "__main__" if kind == "stdio" else "__candidate__"
    g = {"__name__": module_name, "__builtins__": builtins, "__file__": "<candidate>"}
    send({"event": "ready"})
    t0 = now()
    try:
        code = compile(job["code"], "<candidate>", "exec")
        exec(code, g)
        candidate_error = None
    except SystemExit as e:
        candidate_error = None if e.code in (None, 0) else f"SystemExit: {e.code!r}"[:200]
    except BaseException as e:  # noqa: BLE001 - the candidate's failure is a result, not our error
        candidate_error = _describe(e)
    finally:
        sys.settrace(None)  # a trace or profile hook left by the candidate must not run inside the harness
        sys.setprofile(None)
    send({"event": "candidate", "error": candidate_error, "seconds": now() - t0})
    if kind == "stdio":
        for stream in (sys.stdout, sys.stderr, sys.__stdout__):
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001
                pass
        send({"event": "done"})
        return 0 if candidate_error is None else 1

    # Undo whatever the candidate did to the interpreter before any test runs.
    threading.settrace(None)
    threading.setprofile(None)
    for m, snapshot in protected.items():
        sys.modules[m] = protected_modules[m]
        d = vars(protected_modules[m])
        for k in [k for k in d if k not in snapshot]:
            try:
                del d[k]
            except (TypeError, AttributeError):
                pass
        for k, v in snapshot.items():
            if d.get(k, _MISSING) is not v:
                try:
                    d[k] = v
                except (TypeError, AttributeError):
                    pass
    test_globals = dict(g)
    for k in list(test_globals):
        if k in pristine_builtins and k not in ("__name__", "__doc__", "__file__", "__spec__", "__loader__"):
            test_globals[k] = pristine_builtins[k]  # a candidate global named like a builtin must not shadow it
    test_globals["__builtins__"] = dict(pristine_builtins)
    test_globals.update(_NH_HELPERS)

    if kind == "assert":
        for setup_or_test in tests:
            i, src = setup_or_test["index"], setup_or_test["code"]
            t0 = now()
            try:
                exec(compile(src, "<tests>", "exec"), test_globals)
                ok, err = True, None
            except BaseException as e:  # noqa: BLE001
                ok, err = False, _describe(e)
            if i is not None:
                send({"event": "test", "index": i, "ok": ok, "error": err, "seconds": now() - t0})
            elif not ok:
                send({"event": "setup_error", "error": err})
    else:  # call: compare in the host, we only send back what the function returned
        fn_name = job["fn_name"]
        for i, case in enumerate(tests):
            t0 = now()
            try:
                fn = g.get(fn_name)
                if fn is None and "Solution" in g:  # LeetCode-style class Solution with the method
                    fn = getattr(g["Solution"](), fn_name)
                if fn is None:
                    raise NameError(f"the program defines no function {fn_name!r}")
                value = fn(*case.get("args", []), **case.get("kwargs", {}))
                out = {"event": "test", "index": i, "ok": True, "value": _encode(value)}
            except BaseException as e:  # noqa: BLE001
                out = {"event": "test", "index": i, "ok": False, "error": _describe(e)}
            out["seconds"] = now() - t0
            send(out)
    send({"event": "done"})
    return 0


_MISSING = object()


def _nh_compare(ops, *values):
    table = {"Eq": _op.eq, "NotEq": _op.ne, "Lt": _op.lt, "LtE": _op.le, "Gt": _op.gt, "GtE": _op.ge,
             "Is": _op.is_, "IsNot": _op.is_not, "In": lambda a, b: a in b, "NotIn": lambda a, b: a not in b}
    for op, a, b in zip(ops, values, values[1:], strict=False):
        if op not in ("Is", "IsNot") and not (_trusted(a) and _trusted(b)):
            bad = a if not _trusted(a) else b
            raise AssertionError(f"untrusted {type.__dict__['__name__'].__get__(type(bad))} object in a comparison")
        if not table[op](a, b):
            return False
    return True


def _nh_truth(x):
    if not _trusted(x):
        raise AssertionError(f"untrusted {type.__dict__['__name__'].__get__(type(x))} object tested for truth")
    return bool(x)


_NH_HELPERS = {"__nh_compare__": _nh_compare, "__nh_truth__": _nh_truth}


def _install_guard(workdir):
    """Guard mode only: refuse network, processes, native loading, foreign signals and writes outside `workdir`."""
    allowed = (os.path.realpath(workdir) + "/", "/dev/null")
    blocked_prefixes = ("socket.", "subprocess.", "os.exec", "os.posix_spawn", "os.spawn", "os.system", "pty.",
                        "ctypes.dlopen", "os.setuid", "os.setreuid", "os.setresuid")
    path_events = {"os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.symlink", "os.link",
                   "os.truncate", "os.utime", "shutil.rmtree", "os.chdir", "os.mkfifo", "os.mknod"}
    realpath, fspath, getpgrp = os.path.realpath, os.fspath, os.getpgrp

    def inside(p):
        try:
            p = realpath(fspath(p))
        except (TypeError, ValueError):
            return False
        return p == allowed[0][:-1] or p.startswith(allowed[0]) or p == allowed[1]

    def hook(event, args):
        if event.startswith(blocked_prefixes):
            raise PermissionError(f"sandbox: {event} is not allowed")
        if event == "open":
            path, mode, flags = args
            if isinstance(path, int):
                return
            writing = (mode and any(c in mode for c in "wax+")) or (flags is not None and flags & 0o3 != 0)
            if writing and not inside(path):
                raise PermissionError(f"sandbox: writing {path!r} outside the working directory is not allowed")
        elif event in path_events:
            for a in args[:2]:
                if isinstance(a, (str, bytes, os.PathLike)) and not inside(a):
                    raise PermissionError(f"sandbox: {event} on {a!r} outside the working directory is not allowed")
        elif event in ("os.kill", "os.killpg", "signal.pthread_kill"):
            target = args[0]
            if event == "os.kill" and target not in (0, os.getpid()) and -target != getpgrp():
                raise PermissionError("sandbox: signalling other processes is not allowed")
            if event == "os.killpg" and target != getpgrp():
                raise PermissionError("sandbox: signalling other process groups is not allowed")

    sys.addaudithook(hook)


def _child_main(job, nonce, mode, fds, uid):
    """The run's process: isolate, limit, then hand over to the harness. Never returns."""
    import resource

    code = 70
    try:
        res_w, out_w, err_w, stdin_data = fds["res"], fds["out"], fds["err"], job.get("stdin")
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        os.setsid()
        if mode == "namespace":
            _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV)
            _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={job['limits']['tmpfs_bytes']},mode=1777")
            os.chown("/tmp", uid, uid)
            workdir = "/tmp"
        else:
            workdir = job["workdir"]
        os.chdir(workdir)
        # stdin: the test's input (a memfd, so nothing lands on disk) or nothing at all.
        if stdin_data is not None:
            mfd = os.memfd_create("stdin")
            os.write(mfd, stdin_data.encode())
            os.lseek(mfd, 0, os.SEEK_SET)
            os.dup2(mfd, 0)
            os.close(mfd)
        else:
            devnull = os.open("/dev/null", os.O_RDONLY)
            os.dup2(devnull, 0)
            os.close(devnull)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        os.dup2(res_w, 3)
        os.closerange(4, 4096)  # the worker's own pipes to the host must not be reachable from the candidate
        res_fd = 3
        lim = job["limits"]
        cpu = int(lim["cpu_seconds"]) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_AS, (lim["memory_bytes"], lim["memory_bytes"]))
        resource.setrlimit(resource.RLIMIT_FSIZE, (lim["file_bytes"], lim["file_bytes"]))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
        if mode == "namespace":
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            resource.setrlimit(resource.RLIMIT_NPROC, (lim["processes"], lim["processes"]))
        else:
            mine = sum(1 for p in os.listdir("/proc") if p.isdigit() and _owner(p) == os.getuid())
            resource.setrlimit(resource.RLIMIT_NPROC, (mine + lim["processes"], mine + lim["processes"]))
        _prctl(PR_SET_NO_NEW_PRIVS, 1)
        _prctl(PR_SET_DUMPABLE, 0)
        os.environ.clear()
        os.environ.update({"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir,
                           "LANG": "C.UTF-8"})
        import tempfile

        tempfile.tempdir = None  # the worker cached its own temp folder: programs get their working directory
        import io

        sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding="utf-8")
        sys.stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)), encoding="utf-8")
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8", write_through=True)
        sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr
        sys.argv = ["<candidate>"]
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM, signal.SIGPIPE, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        if mode == "guard":
            _install_guard(workdir)
        stdout = sys.stdout
        code = _harness(job, nonce, res_fd)
        try:
            stdout.flush()
        except BaseException:  # noqa: BLE001
            pass
    except BaseException as e:  # noqa: BLE001 - report set-up failures; the host turns them into "error"
        try:
            os.write(2, f"sandbox child failed: {e!r}\n".encode())
        except OSError:
            pass
    finally:
        os._exit(code)


def _owner(pid):
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return -1


def _reap_descendants(child):
    """Kill everything the run left behind. The monitor is a child subreaper, so whatever the candidate started,
    even with setsid or a double fork, is re-parented to it instead of to init; kill and reap until none is left."""
    try:
        os.killpg(child, signal.SIGKILL)
    except OSError:
        pass
    me = str(os.getpid())
    while True:
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                with open(f"/proc/{p}/stat", "rb") as f:
                    ppid = f.read().rsplit(b")", 1)[1].split()[1].decode()
            except (OSError, IndexError):
                continue
            if ppid == me:
                try:
                    os.kill(int(p), signal.SIGKILL)
                except OSError:
                    pass
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


# ----------------------------------------------------------------------------------------------------- job runner
_PROC_FD = None  # the host's /proc, opened before the chroot (namespace mode has no /proc of its own)


def _run_delay(pid):
    """Nanoseconds `pid` (its main thread) has spent runnable but waiting for a CPU (`/proc/PID/schedstat`, field 2);
    `None` when unreadable (process gone, or a kernel without schedstats)."""
    try:
        fd = os.open(f"{pid}/schedstat", os.O_RDONLY, dir_fd=_PROC_FD) if _PROC_FD is not None else os.open(
            f"/proc/{pid}/schedstat", os.O_RDONLY)
    except OSError:
        return None
    try:
        return int(os.read(fd, 256).split()[1])
    except (OSError, IndexError, ValueError):
        return None
    finally:
        os.close(fd)


class _Clock:
    """The run's charged time: wall-clock time minus the time its process waited for a CPU it was ready to use.

    Wall-clock limits alone turn a correct program into a "timeout" when the machine is loaded (ten runnable
    processes on two cores give each a fifth of a core), so the time limit charges the run only for the time it
    could have used: running, sleeping or blocked on I/O count, waiting in the run queue does not. A program that
    sleeps or spins is still stopped after `timeout` seconds; a hard wall-clock cap (`WALL_FACTOR` times the budget)
    bounds a run whatever the load.
    """

    def __init__(self, start):
        self.start, self.pid, self.base, self.delay = start, None, 0, 0

    def attach(self, pid):
        self.pid = pid
        self.base = _run_delay(pid) or 0  # run-queue time before the candidate existed is not the candidate's

    def charged(self, now):
        if self.pid is not None:
            d = _run_delay(self.pid)
            if d is not None and d >= self.base:
                self.delay = max(self.delay, d - self.base)
        return max(0.0, (now - self.start) - self.delay / 1e9)


WALL_FACTOR = 10.0


def run_job(job, mode, uid):
    """Fork a monitor that forks the isolated child; collect events, output and exit status within the limits.

    Every resource taken here (pipes, pidfd, the monitor process, guard mode's working folder) is released on every
    path, errors included, so a failing run never degrades the worker for the next one."""
    nonce = os.urandom(16).hex()
    fds = []  # every fd this run opened and has not closed yet
    monitor = None
    monitor_status = None
    try:
        for _ in range(4):
            fds.extend(os.pipe())
        res_r, res_w, out_r, out_w, err_r, err_w, ctl_r, ctl_w = fds
        if mode == "guard":
            import tempfile

            job["workdir"] = tempfile.mkdtemp(prefix="nebula-sbx-")
        start = time.monotonic()
        monitor = os.fork()
        if monitor == 0:  # monitor: new PID namespace (namespace mode), waits for the child, cleans up, exits
            try:
                _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
                _prctl(PR_SET_CHILD_SUBREAPER, 1)
                for fd in (res_r, out_r, err_r, ctl_r):
                    os.close(fd)
                if mode == "namespace":
                    _check(_libc.unshare(CLONE_NEWPID | CLONE_NEWNS), "unshare(pid, mount)")
                child = os.fork()
                if child == 0:
                    _child_main(job, nonce, mode, {"res": res_w, "out": out_w, "err": err_w}, uid)
                os.write(ctl_w, f"{child}\n".encode())
                for fd in (res_w, out_w, err_w, ctl_w):
                    os.close(fd)
                _, status = os.waitpid(child, 0)
                if mode == "guard":  # in namespace mode the kernel already killed the whole PID namespace
                    _reap_descendants(child)
                os._exit(os.waitstatus_to_exitcode(status) & 0xFF if os.WIFEXITED(status)
                         else 128 + os.WTERMSIG(status))
            except BaseException as e:  # noqa: BLE001
                try:
                    os.write(2, f"sandbox monitor failed: {e!r}\n".encode())
                except OSError:
                    pass
                os._exit(250)
        for fd in (res_w, out_w, err_w, ctl_w):
            os.close(fd)
            fds.remove(fd)
        pidfd = os.pidfd_open(monitor)
        fds.append(pidfd)
        fds.remove(ctl_r)
        with os.fdopen(ctl_r, "rb") as ctl:
            line = ctl.readline().strip()
        child_pid = int(line) if line.isdigit() else None
        report, monitor_status = _collect(job, nonce, monitor, pidfd, child_pid, start, res_r, out_r, err_r, fds)
        return report
    finally:
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass
        if monitor and monitor_status is None:  # an error left the monitor running: end it, reap it
            try:
                os.kill(monitor, signal.SIGKILL)
            except OSError:
                pass
            try:
                os.waitpid(monitor, 0)
            except ChildProcessError:
                pass
        if mode == "guard" and job.get("workdir"):
            import shutil

            shutil.rmtree(job["workdir"], ignore_errors=True)


def _collect(job, nonce, monitor, pidfd, child_pid, start, res_r, out_r, err_r, fds):
    """Read the run's events and output until its monitor exits; kill it when it exceeds its limits."""
    lim = job["limits"]
    n_tests = max(1, job.get("n_tests", 1))
    per_test, total = float(job["timeout"]), float(job["timeout"]) * n_tests + 1.0
    wall_cap = start + WALL_FACTOR * (total + 2.0)
    clock = _Clock(start)
    if child_pid:
        clock.attach(child_pid)
    events, bad_lines = [], 0
    out_buf, err_buf, res_buf = bytearray(), bytearray(), bytearray()
    out_total = 0
    killed_for, ready = None, False
    last_progress = 0.0  # charged seconds at the last event
    open_fds = {res_r, out_r, err_r}
    tag = nonce.encode() + b" "
    monitor_status = None

    def kill():
        # Killing the child is enough: in namespace mode the kernel then kills its whole PID namespace, in guard mode
        # the monitor (left alive on purpose) kills and reaps every descendant before it exits.
        targets = [(os.kill, child_pid), (os.killpg, child_pid)] if child_pid else [(os.kill, monitor)]
        for fn, pid in targets:
            try:
                fn(pid, signal.SIGKILL)
            except OSError:
                pass

    while True:
        now = time.monotonic()
        if killed_for is None and monitor_status is None:
            charged = clock.charged(now)
            allowed = min(last_progress + per_test + (0.0 if ready else 2.0), total + 2.0)
            if charged > allowed or now > wall_cap:
                killed_for = "timeout"
                kill()
            # Wake up when the budget could run out at the earliest (charged time never runs faster than the clock).
            wait = min(max(0.01, allowed - charged), max(0.01, wall_cap - now), 0.5)
        else:
            wait = 0.5
        watch = list(open_fds) + ([pidfd] if monitor_status is None else [])
        if not watch:
            break
        readable, _, _ = select.select(watch, [], [], wait)
        if pidfd in readable and monitor_status is None:
            _, status = os.waitpid(monitor, 0)
            monitor_status = status
            fds.remove(pidfd)
            os.close(pidfd)
            # Everything inside is dead now; drain what is buffered without waiting for EOF forever.
            for fd in list(open_fds):
                os.set_blocking(fd, False)
        for fd in readable:
            if fd == pidfd:
                continue
            try:
                chunk = os.read(fd, 1 << 16)
            except BlockingIOError:
                chunk = None
            if not chunk:
                if chunk is not None or monitor_status is not None:
                    open_fds.discard(fd)
                    fds.remove(fd)
                    os.close(fd)
                continue
            if fd == out_r:
                out_total += len(chunk)
                if len(out_buf) < lim["output_bytes"]:
                    out_buf += chunk[: lim["output_bytes"] - len(out_buf)]
                if out_total > lim["output_bytes"] and killed_for is None:
                    killed_for = "output_limit"
                    kill()
            elif fd == err_r:
                err_buf += chunk
                if len(err_buf) > 8192:
                    del err_buf[: len(err_buf) - 8192]
            else:
                res_buf += chunk
                while b"\n" in res_buf:
                    line, _, rest = res_buf.partition(b"\n")
                    res_buf = bytearray(rest)
                    if line.startswith(tag):
                        try:
                            ev = json.loads(line[len(tag) :])
                        except ValueError:
                            bad_lines += 1
                            continue
                        if ev.get("event") == "ready":
                            ready = True
                        last_progress = clock.charged(time.monotonic())
                        events.append(ev)
                    else:
                        bad_lines += 1
                    if len(res_buf) > 1 << 22:
                        res_buf.clear()
                        bad_lines += 1
        if monitor_status is not None and not readable:
            break
    exit_code = os.waitstatus_to_exitcode(monitor_status) if monitor_status is not None else None
    report = {
        "events": events,
        "exit_code": exit_code,  # the child's exit code, or 128 + signal number
        "killed_for": killed_for,
        "forged_lines": bad_lines,
        "stdout": out_buf.decode("utf-8", "replace"),
        "stdout_bytes": out_total,
        "stderr_tail": err_buf.decode("utf-8", "replace")[-4000:],
        "seconds": time.monotonic() - start,
        "cpu_wait_seconds": clock.delay / 1e9,  # time the run was ready to run but got no CPU (machine load)
    }
    return report, monitor_status


def main():
    global _PROC_FD
    mode = sys.argv[1]
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    # No PR_SET_PDEATHSIG here: it fires when the *thread* that started us ends (pools start workers from threads).
    # If the host dies, our stdin reaches EOF and we exit after the current run, which is bounded by its timeout.
    uid = 2_000_000 + os.getpid()  # a uid of our own: rlimits on processes count per uid
    try:
        if mode == "namespace":
            # Kept for reading the runs' scheduler statistics; every run's child closes it before any candidate code.
            _PROC_FD = os.open("/proc", os.O_RDONLY | os.O_DIRECTORY)
            setup_namespace_root()
        write_frame(stdout, {"ready": True, "mode": mode, "uid": uid if mode == "namespace" else os.getuid()})
    except OSError as e:
        write_frame(stdout, {"ready": False, "error": f"{e}"})
        return
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    while True:
        job = read_frame(stdin)
        if job is None:
            return
        try:
            report = run_job(job, mode, uid)
        except Exception as e:  # noqa: BLE001 - whatever failed, the worker reports it and serves the next run
            err = getattr(e, "errno", None)
            report = {"error": f"sandbox worker failed: {type(e).__name__}: {e}"[:500],
                      "errno": errno.errorcode.get(err, "") if isinstance(err, int) else ""}
        report["id"] = job.get("id")
        write_frame(stdout, report)


if __name__ == "__main__":
    main()
