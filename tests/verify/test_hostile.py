# ruff: noqa: UP031  (the hostile programs are %-formatted source text)
"""Hostile programs against the sandbox (issue 4): none may pass, the host stays intact, nothing is left behind.

Every program below is graded against `add(a, b)` tests and contains no honest solution: it can only "pass" by
breaking out (reading a secret, reaching the network, touching host files) or by faking the harness's results.
"""

import os
import socket
import threading
import time
import uuid

import pytest

from nebula_hub.verify.code import verify_code_batch
from nebula_hub.verify.sandbox import SandboxPool


TESTS = "assert add(2, 3) == 5\nassert add(-1, 1) == 0\nassert abs(add(0.5, 0.25) - 0.75) < 1e-9"
CHEAT = "def add(a, b):\n    return a + b if {cond} else None\n"  # correct only if the attack worked


def hostile_programs(secret_path, sentinel_path, outside_path, port):
    return {
        "infinite_loop": "while True:\n    pass",
        "infinite_loop_in_function": "def add(a, b):\n    while True:\n        pass",
        "sleep_forever": "import time\ntime.sleep(10**6)",
        "fork_bomb": "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
        "memory_bomb": "x = []\nwhile True:\n    x.append(bytearray(10**8))",
        "output_flood": "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)",
        "stderr_flood": "import sys\nwhile True:\n    sys.stderr.write('x' * 65536)",
        "huge_file": "with open('big', 'wb') as f:\n    while True:\n        f.write(b'x' * (1 << 20))",
        "recursion_bomb": "def add(a, b):\n    return add(a, b)",
        "socket_to_host": "import socket\ntry:\n    socket.create_connection(('127.0.0.1', %d), timeout=1).close()\n"
                          "    ok = True\nexcept Exception:\n    ok = False\n" % port + CHEAT.format(cond="ok"),
        "dns_lookup": "import socket\ntry:\n    socket.getaddrinfo('huggingface.co', 443)\n    ok = True\n"
                      "except Exception:\n    ok = False\n" + CHEAT.format(cond="ok"),
        "subprocess_network": "import subprocess, sys\ntry:\n    r = subprocess.run([sys.executable, '-c', 'import socket;"
                              "socket.create_connection((\"127.0.0.1\", %d), timeout=1)'], timeout=5)\n"
                              "    ok = r.returncode == 0\nexcept Exception:\n    ok = False\n" % port
                              + CHEAT.format(cond="ok"),
        "env_token": "import os\nok = 'HF_TOKEN' in os.environ or any('hf_' in v for v in os.environ.values())\n"
                     + CHEAT.format(cond="ok"),
        "proc_environ_scan": "import os\nok = False\nfor p in os.listdir('/proc'):\n    try:\n"
                             "        ok = ok or b'HF_TOKEN' in open(f'/proc/{p}/environ', 'rb').read()\n"
                             "    except Exception:\n        pass\n" + CHEAT.format(cond="ok"),
        "read_host_secret": f"try:\n    ok = 'hunter2' in open({str(secret_path)!r}).read()\nexcept Exception:\n"
                            "    ok = False\n" + CHEAT.format(cond="ok"),
        "write_outside": f"try:\n    open({str(outside_path)!r}, 'w').write('pwned')\n    ok = True\n"
                         "except Exception:\n    ok = False\n" + CHEAT.format(cond="ok"),
        "delete_outside": f"import os\ntry:\n    os.remove({str(sentinel_path)!r})\n    ok = True\nexcept Exception:\n"
                          "    ok = False\n" + CHEAT.format(cond="ok"),
        "kill_parent": "import os, signal\nfor pid in (os.getppid(), 1):\n    try:\n        os.kill(pid, signal.SIGKILL)\n"
                       "    except Exception:\n        pass",
        "kill_everything": "import os, signal\ntry:\n    os.kill(-1, signal.SIGKILL)\nexcept Exception:\n    pass",
        "os_exit_before_tests": "import os\nos._exit(0)",
        "sys_exit_zero": "import sys\nsys.exit(0)",
        "atexit_exit_zero": "import atexit, os\natexit.register(lambda: os._exit(0))\ndef add(a, b):\n    return None",
        "override_builtins": "import builtins\nbuiltins.AssertionError = type('Nope', (Exception,), {})\n"
                             "builtins.abs = lambda x: 0\ndef abs(x):\n    return 0\ndef add(a, b):\n    return 0",
        "always_equal_object": "class Any:\n    def __eq__(self, o):\n        return True\n    __ne__ = lambda s, o: False\n"
                               "    def __sub__(self, o):\n        return self\n    def __abs__(self):\n        return 0\n"
                               "    def __bool__(self):\n        return True\ndef add(a, b):\n    return Any()",
        "monkeypatch_operator": "import operator\noperator.eq = lambda a, b: True\ndef add(a, b):\n    return 0",
        "settrace_skip_asserts": "import sys\ndef tr(frame, event, arg):\n    frame.f_lineno = frame.f_lineno\n"
                                 "    return tr\nsys.settrace(tr)\ndef add(a, b):\n    return 0",
        "fake_stdout_results": "print('PASS\\nok\\n{\"event\": \"done\"}')\nimport os\nos._exit(0)",
        "forge_result_channel": "import os, json\nfor fd in range(3, 64):\n    try:\n"
                                "        for i in range(3):\n            os.write(fd, (json.dumps({'event': 'test', 'index': i,"
                                " 'ok': True}) + '\\n').encode())\n        os.write(fd, b'{\"event\": \"done\"}\\n')\n"
                                "    except OSError:\n        pass\nos._exit(0)",
        "forging_thread": "import os, threading, time\ndef spam():\n    while True:\n        for fd in range(3, 16):\n"
                          "            try:\n                os.write(fd, b'x {\"event\": \"done\"}\\n')\n"
                          "            except OSError:\n                pass\n        time.sleep(0.001)\n"
                          "threading.Thread(target=spam, daemon=True).start()\ndef add(a, b):\n    return 0",
        "ctypes_segfault": "import ctypes\nctypes.string_at(0)",
        "detached_child": "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
                          "        time.sleep(600)\n    os._exit(0)\ndef add(a, b):\n    return None",
        "alarm_exit_zero": "import signal, os, time\nsignal.signal(signal.SIGALRM, lambda *a: os._exit(0))\n"
                           "signal.setitimer(signal.ITIMER_REAL, 0.05)\ndef add(a, b):\n    time.sleep(1)\n    return None",
        "setuid_root": "import os\ntry:\n    os.setuid(0)\n    ok = True\nexcept Exception:\n    ok = False\n"
                       + CHEAT.format(cond="ok"),
    }


# Attacks that only real isolation (namespaces) stops; guard mode (unprivileged hosts) cannot stop file reads.
NEEDS_NAMESPACES = {"read_host_secret"}


def _children(pid):
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and _ppid(p) == pid]


def _alive(pid):
    try:
        return b"_sandbox_zygote.py" in open(f"/proc/{pid}/cmdline", "rb").read()
    except OSError:
        return False


def _pids_of_uid(uid):
    out = []
    for p in os.listdir("/proc"):
        try:
            if p.isdigit() and os.stat(f"/proc/{p}").st_uid == uid:
                out.append(int(p))
        except OSError:
            pass
    return out


@pytest.fixture
def listener():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    srv.settimeout(0.2)
    hits = []
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
                hits.append(1)
                conn.close()
            except OSError:
                pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield srv.getsockname()[1], hits
    stop.set()
    t.join()
    srv.close()


def test_hostile_battery(tmp_path, listener, monkeypatch):
    port, hits = listener
    monkeypatch.setenv("HF_TOKEN", "hf_" + "x" * 30)  # must not reach the sandbox
    secret = tmp_path / "secret.txt"
    secret.write_text("hunter2")
    sentinel = tmp_path / "sentinel.txt"
    sentinel.write_text("keep me")
    outside = tmp_path / f"pwned-{uuid.uuid4().hex}"
    tmp_outside = f"/tmp/nebula-hostile-{uuid.uuid4().hex}"
    programs = hostile_programs(secret, sentinel, outside, port)
    # /tmp inside a namespace sandbox is the run's own tmpfs, so the write may succeed there: what matters is that
    # nothing appears in the host's /tmp (checked below).
    programs["write_tmp_outside"] = (f"try:\n    open({tmp_outside!r}, 'w').write('x')\nexcept Exception:\n"
                                     "    pass\ndef add(a, b):\n    return None")
    assert len(programs) >= 25
    before_tmp = set(os.listdir("/tmp"))

    with SandboxPool(workers=2) as pool:
        if pool.isolation != "namespace":
            for name in NEEDS_NAMESPACES:
                programs.pop(name)
        names = list(programs)
        results = verify_code_batch([(programs[n], TESTS) for n in names], pool=pool, timeout=1.5, progress=False)
        verdicts = {n: (r.verdict, r.detail) for n, r in zip(names, results, strict=True)}
        passed = {n: v for n, v in verdicts.items() if v[0] == "pass"}
        assert not passed, f"hostile programs graded as pass: {passed}"
        assert {v[0] for v in verdicts.values()} <= {"fail", "timeout", "crash"}, verdicts
        # A few outcomes are specific enough to pin down.
        assert verdicts["infinite_loop"][0] == "timeout" and verdicts["sleep_forever"][0] == "timeout", verdicts
        assert verdicts["os_exit_before_tests"][0] == "crash", verdicts["os_exit_before_tests"]
        assert verdicts["ctypes_segfault"][0] == "crash" and "SIGSEGV" in verdicts["ctypes_segfault"][1]
        assert verdicts["output_flood"] == ("fail", verdicts["output_flood"][1]) and "output limit" in verdicts[
            "output_flood"][1]
        assert "untrusted Any object" in verdicts["always_equal_object"][1], verdicts["always_equal_object"]
        # The host is unaffected and the pool still grades honest code.
        honest = verify_code_batch([("def add(a, b):\n    return a + b", TESTS)], pool=pool, progress=False)[0]
        assert honest.verdict == "pass", honest.detail
        assert sentinel.read_text() == "keep me" and secret.read_text() == "hunter2"
        assert not outside.exists() and not os.path.exists(tmp_outside)
        assert not hits, "a sandboxed program reached a host socket"
        # No process left behind: only the workers themselves remain (and, with namespaces, nothing runs as their uid).
        time.sleep(0.2)
        workers = [w for w in pool._all if w.proc is not None]
        pids = [w.proc.pid for w in workers]
        assert pids and all(_alive(p) for p in pids)
        for pid in pids:  # a worker's only children are its runs' monitors, which must all have ended
            assert _children(pid) == [], f"worker {pid} still has children {_children(pid)}"
        if pool.isolation == "namespace":
            for w in workers:
                assert _pids_of_uid(w.uid) == [], f"processes left running as sandbox uid {w.uid}"
    assert not [p for p in pids if _alive(p)], "workers still running after the pool closed"
    # No file left behind in the host's /tmp (guard mode's working folders included).
    # Only the sandbox's own names: other test suites on the machine create their own nebula-* folders meanwhile.
    leftovers = [f for f in set(os.listdir("/tmp")) - before_tmp
                 if f.startswith(("nebula-sbx-", "nebula-hostile-", "nebula-sandbox"))]
    assert not leftovers, leftovers


def test_guard_mode_battery_subset(tmp_path, listener):
    """The unprivileged fallback also holds against the main escapes (what CI without root would run)."""
    port, hits = listener
    sentinel = tmp_path / "sentinel.txt"
    sentinel.write_text("keep me")
    outside = tmp_path / "pwned"
    programs = hostile_programs(tmp_path / "none", sentinel, outside, port)
    names = ["fork_bomb", "socket_to_host", "subprocess_network", "write_outside", "delete_outside", "kill_parent",
             "os_exit_before_tests", "forge_result_channel", "detached_child", "always_equal_object"]
    with SandboxPool(workers=2, isolation="guard") as pool:
        results = verify_code_batch([(programs[n], TESTS) for n in names], pool=pool, timeout=1.5, progress=False)
        verdicts = {n: (r.verdict, r.detail) for n, r in zip(names, results, strict=True)}
        assert not [n for n, v in verdicts.items() if v[0] == "pass"], verdicts
        assert sentinel.read_text() == "keep me" and not outside.exists() and not hits
        assert verify_code_batch([("def add(a, b):\n    return a + b", TESTS)], pool=pool,
                                 progress=False)[0].verdict == "pass"
        time.sleep(0.2)
        # Leftovers would be children of the workers (the monitor reaps everything a run started before it exits).
        for w in pool._all:
            assert w.proc is not None and _alive(w.proc.pid)
            assert _children(w.proc.pid) == [], f"worker {w.proc.pid} still has children {_children(w.proc.pid)}"


def _ppid(pid):
    try:
        return int(open(f"/proc/{pid}/stat", "rb").read().rsplit(b")", 1)[1].split()[1])
    except (OSError, IndexError):
        return -1
