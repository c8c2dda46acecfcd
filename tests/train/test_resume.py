"""Kill `nebula-hub train-and-push` mid-training, rerun with --resume: it continues from the checkpoint (issue 9).

The resumed run goes through `--accelerate-config` (one CPU process), so the multi-GPU path is exercised for real:
the CLI launches `accelerate launch ... -m nebula_hub.train`, waits, and reads the result back from state.json.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from nebula_hub.errors import NebulaError


pytestmark = pytest.mark.slow

RECIPE = """
name: resume-test
base_model: tiny
repo: {repo}
output_dir: {out}
defaults: {{logging_steps: 1, save_steps: 10, save_total_limit: 3, per_device_train_batch_size: 4}}
stages:
  sft:
    method: sft
    init_from: base
    datasets: [{{repo: local/nebula-sft, config: math, revision: v1.0.0}}]
    args: {{max_steps: 80, learning_rate: 1.0e-3, assistant_only_loss: true, max_length: 128}}
"""


def _cli(args, env, **kw):
    return subprocess.Popen([sys.executable, "-m", "nebula_hub.cli", "train-and-push", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True, **kw)  # fmt: skip


def test_killed_run_resumes_from_its_checkpoint(local_hub, quickstart_datasets, tmp_path, monkeypatch):
    from nebula_hub.train import train_and_push

    recipe = tmp_path / "recipe.yaml"
    repo = local_hub.repo_id("resume")
    recipe.write_text(RECIPE.format(repo=repo, out=tmp_path / "runs"))
    env = {
        **os.environ,
        "HF_ENDPOINT": local_hub.endpoint,
        "HF_TOKEN": local_hub.token,
        "HF_HUB_CACHE": str(tmp_path / "hf"),
    }
    phase_dir = tmp_path / "runs" / "resume-test" / "sft" / "main"

    proc = _cli(["--recipe", str(recipe)], env)
    try:
        deadline = time.time() + 240
        while not (phase_dir / "checkpoint-10" / "trainer_state.json").exists():
            assert proc.poll() is None, f"run ended before a checkpoint was saved:\n{proc.stdout.read()[-3000:]}"
            assert time.time() < deadline, "no checkpoint within 240 s"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    state = json.loads((tmp_path / "runs" / "resume-test" / "state.json").read_text())
    assert "sft" not in state["stages"] or not state["stages"]["sft"].get("pushed")
    saved = sorted(
        int(p.name.split("-")[1]) for p in phase_dir.glob("checkpoint-*") if (p / "trainer_state.json").exists()
    )
    assert saved and saved[-1] < 80
    killed_state = json.loads((phase_dir / f"checkpoint-{saved[-1]}" / "trainer_state.json").read_text())

    # Without --resume the run folder is refused, naming the flag (in-process: the library call the CLI makes).
    for key in ("HF_ENDPOINT", "HF_TOKEN", "HF_HUB_CACHE"):
        monkeypatch.setenv(key, env[key])
    with pytest.raises(NebulaError) as refused:
        train_and_push(recipe)
    assert "already holds a run" in refused.value.message and "--resume" in refused.value.hint

    # The resumed run goes through `accelerate launch` (one CPU process): the CLI launches `python -m nebula_hub.train`,
    # waits, and reports the result it reads back from state.json.
    cpu = tmp_path / "accelerate-cpu.yaml"
    cpu.write_text("compute_environment: LOCAL_MACHINE\ndistributed_type: 'NO'\nnum_processes: 1\nuse_cpu: true\n")
    resumed = _cli(["--recipe", str(recipe), "--resume", "--accelerate-config", str(cpu)], env)
    out, _ = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, out[-3000:]
    launched = f"-m accelerate.commands.launch --config_file {cpu} -m nebula_hub.train --recipe {recipe} --resume"
    assert launched in out, out[:3000]
    assert f"resuming from {phase_dir / f'checkpoint-{saved[-1]}'}" in out or "resuming from" in out, out[-3000:]
    assert "trained 1 stage(s), skipped 0 already done; 1 pushed in this run" in out, out[-2000:]

    result = json.loads((phase_dir / "final" / "nebula_train_result.json").read_text())
    assert result["resumed_from"] == f"checkpoint-{saved[-1]}"
    assert result["global_step"] == 80
    history = [h for h in result["log_history"] if "loss" in h]
    # The early steps come from the killed run's state, not from a fresh start.
    before = {h["step"]: h["loss"] for h in killed_state["log_history"] if "loss" in h}
    after = {h["step"]: h["loss"] for h in history}
    assert before and all(after[s] == before[s] for s in before)
    assert max(after) == 80 and len(after) == 80

    # A third run with --resume has nothing left to do: the stage was pushed by this run.
    again = train_and_push(recipe, resume=True)
    assert (again.trained, again.skipped) == ([], ["sft"])
    refs = local_hub.api().list_repo_refs(repo)
    assert {b.name: b.target_commit for b in refs.branches}["resume-test-sft"] == again.pushed["sft"]["sha"]
