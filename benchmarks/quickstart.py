"""Quickstart benchmark: per-stage wall time, CPU and peak memory of `nebula-hub quickstart`, and what the quickstart's
per-stage child processes and measurement cost compared with calling a stage's work directly.

    python benchmarks/quickstart.py            # a whole `--size tiny` run on a fresh local Hub, then the overhead
    python benchmarks/quickstart.py --quick    # the overhead comparison only
    python benchmarks/quickstart.py --size small

Overhead: the same workload (import the training stack, build and save the tiny model) run N times
(a) in-process, as a baseline, (b) as a plain child process (`subprocess.run`), (c) as a quickstart stage does it
(`run_measured`: own session, /proc sampling every 0.5 s, wait4). The ratios c/a and c/b are what the quickstart's
isolation and measurement add per stage.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


WORKLOAD = (
    "import trl, transformers, datasets\n"
    "from nebula_hub.models import TinyModelConfig, build_tiny_model\n"
    "build_tiny_model(TinyModelConfig(), output_dir={out!r}, overwrite=True)\n"
)


def _overhead(repeats: int, tmp: Path) -> None:
    from nebula_hub.quickstart.measure import run_measured

    code = WORKLOAD.format(out=str(tmp / "tiny"))
    t0 = time.perf_counter()
    exec(compile(code, "workload", "exec"), {})  # warms the import cache for the child runs too
    first_in_process = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(repeats):
        exec(compile(code, "workload", "exec"), {})
    in_process = (time.perf_counter() - t0) / repeats
    t0 = time.perf_counter()
    for _ in range(repeats):
        subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL)
    plain = (time.perf_counter() - t0) / repeats
    t0 = time.perf_counter()
    peaks = []
    for _ in range(repeats):
        m = run_measured([sys.executable, "-c", code], tmp / "log")
        assert m.returncode == 0, (tmp / "log").read_text()[-2000:]
        peaks.append(m.peak_rss_mb)
    measured = (time.perf_counter() - t0) / repeats
    print(f"workload: import trl/transformers/datasets + build the tiny model; {repeats} runs each")
    print(f"  in-process (imports warm after a first {first_in_process:.1f} s): {in_process:8.2f} s/run  (baseline)")
    print(f"  plain child process (subprocess.run):            {plain:8.2f} s/run  ratio {plain / in_process:6.1f}x")
    print(f"  quickstart stage (run_measured):                 {measured:8.2f} s/run  ratio {measured / in_process:6.1f}x"
          f"  ({measured / plain:.2f}x plain child); peak RSS {sum(peaks) / len(peaks):.0f} MiB")  # fmt: skip


def _full(size: str, tmp: Path) -> None:
    env = dict(os.environ, NEBULA_HUB_CACHE=str(tmp / "cache"), HF_HOME=str(tmp / "hf"))
    env.pop("HF_ENDPOINT", None)
    env.pop("HF_TOKEN", None)
    cmd = [sys.executable, "-m", "nebula_hub", "quickstart", "--size", size, "--workdir", str(tmp / "work"),
           "--no-space"]  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode:
        sys.exit(f"quickstart failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    table = proc.stdout.split("## Stages: wall time and peak memory", 1)[1].split("## Where", 1)[0]
    print(f"nebula-hub quickstart --size {size}: {wall:.1f} s end to end (fresh local hub, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f})")  # fmt: skip
    print(table.strip())
    # stop the local hub this run started (it lives under the temporary cache)
    from nebula_hub.hub import stop_local_hub

    stop_local_hub(tmp / "cache" / "hub")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="only the overhead comparison")
    parser.add_argument("--size", default="tiny", help="quickstart size for the full run (default: tiny)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per variant of the overhead workload")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nebula-qs-bench-") as tmp:
        if not args.quick:
            _full(args.size, Path(tmp))
            print()
        _overhead(args.repeats, Path(tmp))


if __name__ == "__main__":
    main()
