"""End to end: the RL pool on the bundled sources with the tiny grader, its output folder, resume, and a GRPO step."""

import json
import shutil

import pytest

from nebula_hub.artifacts import CurationOutput
from nebula_hub.curate.rl import load_rl_config, run_rl_pool
from nebula_hub.paths import resource_path
from nebula_hub.schema import RL_FEATURES, RLRecord


pytestmark = pytest.mark.slow
CONFIG = resource_path("pipelines", "rl_pool.yaml")
GRPO_COLUMNS = ["prompt", "task", "answer", "tests", "constraints", "difficulty", "pass_rate"]


@pytest.fixture(scope="module")
def pool(tmp_path_factory, tiny_model_path):
    out = tmp_path_factory.mktemp("rl") / "pool"
    return run_rl_pool(CONFIG, output=out, tasks=2, workers=2)


def curated(out):
    import pyarrow.parquet as pq

    return [RLRecord.from_row(r) for p in sorted((out / "data").rglob("*.parquet")) for r in pq.read_table(p).to_pylist()]


def rejected(out):
    import pyarrow.parquet as pq

    rows = [r for p in sorted((out / "rejected").glob("*.parquet")) for r in pq.read_table(p).to_pylist()]
    return [dict(r, record=json.loads(r["record"])) for r in rows]


def test_output_folder_contract(pool):
    out = CurationOutput(pool, verify=True)  # every listed file exists with its sha256
    assert out.kind == "rl" and out.manifest.files and out.manifest.rejected_files
    assert {s.name for s in out.manifest.sources} == {"rl_math", "rl_code", "rl_if_seeds"}
    stats = out.stats
    funnel = stats["funnel"]
    assert funnel[0]["in"] == stats["totals"]["input"] == stats["totals"]["curated"] + stats["totals"]["rejected"]
    assert all(a["out"] == b["in"] for a, b in zip(funnel, funnel[1:], strict=False))
    assert funnel[-1]["out"] == stats["totals"]["curated"] == sum(f.rows for f in out.manifest.files)
    assert sum(stats["distributions"]["difficulty"].values()) == stats["totals"]["curated"]
    assert (pool / "pipeline.yaml").is_file() and (pool / "logs" / "grade" / "completions").is_dir()


def test_columns_load_with_datasets_and_are_grpo_ready(pool):
    import datasets

    ds = datasets.load_dataset("parquet", data_files=str(pool / "data" / "train" / "*.parquet"), split="train")
    assert ds.features == RL_FEATURES
    assert set(GRPO_COLUMNS) <= set(ds.column_names)
    assert set(ds["task"]) == {"math", "code", "instruction_following"}
    for row in ds:
        assert row["prompt"][-1]["role"] == "user"
        assert row["difficulty"] in ("easy", "medium", "hard") and 0.0 <= row["pass_rate"] <= 1.0
        target = {"math": row["answer"], "code": row["tests"], "instruction_following": row["constraints"]}
        assert target[row["task"]] is not None


def test_every_bundled_defect_is_rejected_with_its_reason(pool):
    by_id: dict[str, list[tuple[str, str]]] = {}
    for r in rejected(pool):
        oid = (r["record"].get("source") or {}).get("original_id") or r["detail"]
        by_id.setdefault(oid, []).append((r["stage"], r["reason"]))
    expect = {
        "m028": ("math_gold", "unparsable_gold"), "m029": ("math_gold", "unparsable_gold"),
        "m030": ("math_gold", "unparsable_gold"), "m034": ("decontamination", "contaminated"),
        "m035": ("decontamination", "contaminated"), "c11": ("code_tests", "tests_fail_reference"),
        "c12": ("code_tests", "flaky_tests"),
        "if200": ("if_constraints", "invalid_constraints"), "if201": ("if_constraints", "invalid_constraints"),
    }
    for oid, reason in expect.items():
        assert by_id.get(oid) == [reason], oid
    # rows that never parsed are named by their file and line
    assert by_id["math.jsonl:37"] == [("ingest", "invalid_json")]
    assert by_id["code.jsonl:15"] == [("ingest", "invalid_tests")]  # c14: call tests without an entry point
    # duplicates: exactly one of each pair is dropped
    for pair, stage in ((("m001", "m031"), "exact_dedup"), (("c00", "c13"), "exact_dedup"),
                        (("if003", "if202"), "exact_dedup"), (("m032", "m033"), "near_dedup")):
        assert [stage] == [s for oid in pair for s, _ in by_id.get(oid, [])], pair
    curated_ids = {r.source.original_id for r in curated(pool)}
    assert not curated_ids & set(expect)
    assert {"m000", "c00", "c10", "if100"} <= curated_ids


def test_pass_rates_match_the_verifiers_run_on_the_saved_rollouts(pool):
    from nebula_hub.curate.generation import CachedGenerator
    from nebula_hub.generate.cache import ResultCache
    from nebula_hub.verify.code import verify_code
    from nebula_hub.verify.ifeval import check_constraints
    from nebula_hub.verify.math import verify_math

    cfg = load_rl_config(CONFIG, [f"output={pool}"])
    keyer = CachedGenerator(cfg.grader)
    saved = {}
    for path in (pool / "work" / "rollouts").glob("*.jsonl"):
        saved.update(ResultCache(path).entries)
    from nebula_hub.curate.rl_code_tests import verifier_tests

    for rec in curated(pool):
        rollouts = saved[keyer.key([m.model_dump() for m in rec.prompt])]
        assert len(rollouts) == cfg.grader.n == rec.meta["rollouts"]
        passes = 0
        for c in rollouts:
            if c.finish_reason == "length":
                continue  # a truncated rollout never passes
            if rec.task == "math":
                ok = verify_math(c.text, rec.answer).passed
            elif rec.task == "code":
                ok = verify_code(c.text, verifier_tests(rec.tests.model_dump()), timeout=5).passed
            else:
                ok = check_constraints(c.text.strip(), rec.constraints.model_dump()).passed
            passes += ok
        assert rec.pass_rate == pytest.approx(passes / len(rollouts)), rec.id
        assert rec.meta["passes"] == passes
        assert rec.meta["zero_variance"] is (passes in (0, len(rollouts)))
        level = "hard" if rec.pass_rate <= cfg.difficulty.hard_max else (
            "easy" if rec.pass_rate >= cfg.difficulty.easy_min else "medium")
        assert rec.difficulty == level


def test_resume_redoes_only_the_missing_task_from_saved_rollouts(pool, tmp_path, monkeypatch):
    from nebula_hub.curate.generation import CachedGenerator
    from nebula_hub.errors import NebulaError

    copy = tmp_path / "pool"
    shutil.copytree(pool, copy)
    before = sorted((r.id, r.pass_rate, r.difficulty) for r in curated(copy))
    # simulate a run killed during grading: task 1 of the last stage left no completion marker and no output
    (copy / "logs" / "grade" / "completions" / "00001").unlink()
    for p in (copy / "data" / "train").glob("*_00001.parquet"):
        p.unlink()
    (copy / "manifest.json").unlink()
    (copy / "logs" / "finalize" / "completions" / "00000").unlink()  # finalize never ran in a killed run

    def no_generation(self):
        raise AssertionError("resume regenerated rollouts that were already saved")

    monkeypatch.setattr(CachedGenerator, "backend", no_generation)
    out = run_rl_pool(CONFIG, output=copy, tasks=2, workers=1)
    assert (out / "manifest.json").is_file()
    assert sorted((r.id, r.pass_rate, r.difficulty) for r in curated(out)) == before
    assert CurationOutput(out).stats["totals"] == CurationOutput(pool).stats["totals"]
    with pytest.raises(NebulaError, match="--tasks 2"):
        run_rl_pool(CONFIG, output=copy, tasks=3, workers=1)


def test_resume_refuses_a_changed_config(pool, tmp_path):
    from nebula_hub.errors import NebulaError

    copy = tmp_path / "pool"
    shutil.copytree(pool, copy)
    with pytest.raises(NebulaError, match="different pipeline config"):
        run_rl_pool(CONFIG, output=copy, tasks=2, workers=1, overrides=["difficulty.hard_max=0.5"])


def test_grpo_step_runs_on_a_bucket_without_conversion(pool, tiny_model_path, tmp_path):
    import datasets
    from transformers import AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from nebula_hub.rewards import get_reward_funcs

    ds = datasets.load_dataset("parquet", data_files=str(pool / "data" / "train" / "*.parquet"), split="train")
    bucket = ds.filter(lambda level: level == "hard", input_columns=["difficulty"]).select(range(4))
    args = GRPOConfig(output_dir=str(tmp_path / "grpo"), max_steps=1, per_device_train_batch_size=4,
                      num_generations=2, max_completion_length=8, bf16=False, use_cpu=True,
                      gradient_checkpointing=False, report_to=[], logging_steps=1, save_strategy="no")
    trainer = GRPOTrainer(model=str(tiny_model_path), reward_funcs=get_reward_funcs(["multi_task"]), args=args,
                          train_dataset=bucket, processing_class=AutoTokenizer.from_pretrained(tiny_model_path))
    trainer.train()
    logged = trainer.state.log_history[0]
    assert "rewards/multi_task_reward/mean" in logged and trainer.state.global_step == 1


def test_rewards_score_correct_answers_from_the_published_columns(pool):
    import datasets

    from nebula_hub.rewards import get_reward_funcs

    ds = datasets.load_dataset("parquet", data_files=str(pool / "data" / "train" / "*.parquet"), split="train")
    rows = {r["source"]["original_id"]: r for r in ds}
    correct = {
        "m000": "The answer is $\\boxed{31}$.",
        "c00": "```python\ndef add(a, b):\n    return a + b\n```",
        "c04": "```python\ndef gcd(a, b):\n    while b:\n        a, b = b, a % b\n    return a\n```",
        "if100": "waves fold in silence\nthe tide keeps its quiet time\nsalt wind on the stones",
    }
    picked = [rows[k] for k in correct]
    columns = {c: [r[c] for r in picked] for c in ds.column_names if c != "prompt"}
    scores = get_reward_funcs(["multi_task"])[0]([[{"role": "assistant", "content": t}] for t in correct.values()],
                                                **columns)
    assert scores == [1.0] * len(correct)
