"""Per-stage measurement: the figures come from the kernel for the stage's processes, not from this process."""

import json
import os
import sys
import textwrap

from nebula_hub.quickstart.measure import process_tree, run_measured, tree_memory_mb


TOUCH = "x = bytearray({mb} * 2**20); x[::4096] = b'1' * len(x[::4096])"


def test_a_stage_reports_its_own_peak_whatever_the_parent_holds(tmp_path):
    # This (pytest) process is bigger than the stage: the stage's figure must still be the stage's 120 MiB.
    ballast = bytearray(300 * 2**20)
    ballast[::4096] = b"1" * len(ballast[::4096])
    out = tmp_path / "peak.json"
    code = TOUCH.format(mb=120) + textwrap.dedent(
        f"""
        import json
        from nebula_hub.quickstart.measure import own_peak_rss_mb
        open({str(out)!r}, "w").write(json.dumps(own_peak_rss_mb()))
        print("allocated")
        """
    )
    log = tmp_path / "out.log"
    m = run_measured([sys.executable, "-c", code], log, interval=0.05)
    assert m.returncode == 0 and not m.interrupted
    assert 120 <= json.loads(out.read_text()) < 250
    assert m.wall_s > 0 and m.cpu_s > 0
    assert "allocated" in log.read_text()
    del ballast


def test_workers_count_in_the_tree_figure_and_failures_keep_their_status(tmp_path):
    # Two workers hold 80 MiB each at the same time, then the stage fails: the summed figure sees both.
    hold = TOUCH.format(mb=80) + "; import time; time.sleep(1.5)"
    code = textwrap.dedent(
        f"""
        import subprocess, sys
        from nebula_hub.quickstart.measure import own_peak_rss_mb
        procs = [subprocess.Popen([sys.executable, "-c", {hold!r}]) for _ in range(2)]
        for p in procs:
            p.wait()
        print("largest", own_peak_rss_mb())
        sys.exit(3)
        """
    )
    log = tmp_path / "log"
    m = run_measured([sys.executable, "-c", code], log, interval=0.1)
    assert m.returncode == 3
    assert m.peak_tree_mb >= 160  # both workers at once
    largest = float(log.read_text().split("largest")[1])
    assert 80 <= largest < m.peak_tree_mb  # one worker, waited for by the stage process


def test_tree_of_this_process_includes_itself():
    assert process_tree(os.getpid())[0] == os.getpid()
    assert tree_memory_mb(os.getpid()) > 10
