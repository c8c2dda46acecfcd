"""The evaluate metric modules: offline loading, the IFEval reproduction, and tables of scored cases."""

import json
import os
import subprocess
import sys
from itertools import combinations

import pytest

from nebula_hub.evaluation.benchmarks import get_benchmark
from nebula_hub.evaluation.loaders import load_samples
from nebula_hub.evaluation.metrics import METRIC_NAMES, load_metric, metric_path
from nebula_hub.evaluation.stats import average_interval, bootstrap_interval, wilson_interval


def test_metrics_load_from_local_path_offline(tmp_path):
    # A fresh process with the Hub switched off and empty caches: Hub-hosted metric scripts would fail here.
    code = (
        "import evaluate\n"
        "from nebula_hub.evaluation.metrics import METRIC_NAMES, metric_path\n"
        "for name in METRIC_NAMES:\n"
        "    m = evaluate.load(str(metric_path(name)))\n"
        "    print(name, type(m).__name__)\n"
        "print(evaluate.load(str(metric_path('mc_accuracy'))).compute(predictions=['Answer: C'], references=['C']))\n"
    )
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "hf"),
        "HF_MODULES_CACHE": str(tmp_path / "modules"),
    }
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert [line.split()[0] for line in out.stdout.splitlines()[:4]] == list(METRIC_NAMES)
    assert "'accuracy': 1.0" in out.stdout
    assert all((metric_path(n) / f"{n}.py").is_file() for n in METRIC_NAMES)


def test_ifeval_reproduces_reference_accuracies_exactly(shared_data):
    """Google's reference verdicts on GPT-4's responses give 0.7708 / 0.8369 / 0.7967 / 0.8561 (summary.json)."""
    folder = shared_data / "ifeval"
    samples, _ = load_samples(get_benchmark("ifeval"), source="file", path=folder / "input_data.jsonl")
    prompts = [json.loads(line)["prompt"] for line in open(folder / "input_data.jsonl")]
    responses = {}
    for line in open(folder / "input_response_data_gpt4_20231107_145030.jsonl"):
        row = json.loads(line)
        responses[row["prompt"]] = row["response"]
    out = load_metric("ifeval").compute(
        predictions=[responses[p] for p in prompts], references=[s.reference for s in samples], return_details=True
    )
    summary = json.loads((folder / "summary.json").read_text())["gpt4_20231107__google_reference_latest"]
    assert (out["n_prompts"], out["n_instructions"]) == (summary["n_prompts"], summary["n_instructions"])
    for ours, theirs in [
        ("prompt_level_strict_acc", "prompt_level_strict"),
        ("inst_level_strict_acc", "inst_level_strict"),
        ("prompt_level_loose_acc", "prompt_level_loose"),
        ("inst_level_loose_acc", "inst_level_loose"),
    ]:
        assert round(out[ours], 4) == summary[theirs], ours
    # and per sample: every instruction verdict equals the reference's
    reference = {json.loads(line)["key"]: json.loads(line) for line in open(folder / "reference_verdicts.jsonl")}
    for sample, detail in zip(samples, out["details"], strict=True):
        ref = reference[int(sample.id)]
        assert detail["follow_instruction_list_strict"] == ref["strict"], sample.id
        assert detail["follow_instruction_list_loose"] == ref["loose"], sample.id


@pytest.mark.parametrize(
    "case, response, gold, verdict",
    [
        ("boxed fraction", "so $\\boxed{\\frac{19}{12}}$", "\\frac{19}{12}", "pass"),
        ("decimal vs fraction", "The answer is $\\boxed{0.5}$.", "\\frac{1}{2}", "pass"),
        ("gsm8k integer", "She has 13 dollars left. The answer is 13.", "13", "pass"),
        ("wrong", "The answer is $\\boxed{14}$.", "13", "fail"),
        ("thinking ignored", "<think>maybe 7</think>Final: $\\boxed{12}$", "12", "pass"),
        ("cut off in thinking", "<think>maybe 12", "12", "unparsable"),
        ("interval", "$\\boxed{(1, 5)}$", "(1, 5)", "pass"),
    ],
)
def test_math_accuracy_cases(case, response, gold, verdict):
    out = load_metric("math_accuracy").compute(predictions=[response], references=[gold], return_details=True)
    assert out["details"][0]["verdict"] == verdict, case
    assert out["accuracy"] == float(verdict == "pass"), case


@pytest.mark.parametrize(
    "case, response, choice",
    [
        ("asked format", "Reasoning...\nAnswer: C", "C"),
        ("bold", "**Answer:** (B)", "B"),
        ("phrase", "I think the correct answer is (D).", "D"),
        ("boxed", "$\\boxed{A}$", "A"),
        ("lone letter line", "Let me think.\nB", "B"),
        ("article is not an answer", "A man walks into a bar.", None),
        ("thinking ignored", "<think>Answer: A</think>Answer: D", "D"),
        ("cut off", "<think>Answer: A", None),
        ("last statement wins", "Answer: A\nWait, no.\nAnswer: B", "B"),
    ],
)
def test_mc_extraction_cases(case, response, choice):
    from nebula_hub.evaluation.choices import extract_choice

    assert extract_choice(response) == choice, case


def test_mc_accuracy_counts():
    out = load_metric("mc_accuracy").compute(
        predictions=["Answer: A", "Answer: B", "no idea"], references=["A", "C", "D"]
    )
    assert out == {"accuracy": pytest.approx(1 / 3), "n": 3, "n_no_answer": 1}


def test_pass_at_k_estimator_matches_enumeration():
    from nebula_hub.evaluation.metrics.code_pass_at_k.code_pass_at_k import pass_at_k

    for n in range(1, 7):
        for c in range(n + 1):
            for k in range(1, n + 1):
                outcomes = [True] * c + [False] * (n - c)
                subsets = list(combinations(outcomes, k))
                brute = sum(any(s) for s in subsets) / len(subsets)
                assert pass_at_k(n, c, k) == pytest.approx(brute), (n, c, k)


def test_code_metric_on_bundled_canonical_and_broken_solutions():
    for name, solution_field in (("humaneval", "canonical_solution"), ("mbpp", "code")):
        spec = get_benchmark(name)
        samples, _ = load_samples(spec, source="bundled")
        rows = [json.loads(line) for line in open(spec.bundled_path())]
        good = [f"```python\n{row[solution_field]}\n```" for row in rows]
        if name == "humaneval":
            good = [f"```python\n{row['prompt']}{row[solution_field]}```" for row in rows]
        broken = ["```python\nraise SystemExit(0)\n```" for _ in rows]
        out = load_metric("code_pass_at_k").compute(
            predictions=[[g, b] for g, b in zip(good, broken, strict=True)],
            references=[s.reference for s in samples],
            k=[1, 2],
            return_details=True,
        )
        assert out["pass@1"] == 0.5 and out["pass@2"] == 1.0, (name, out["details"])
        assert all(d[0]["verdict"] == "pass" and d[1]["verdict"] != "pass" for d in out["details"]), name
    # a body-only completion (HumanEval's completion style) runs after the prompt
    spec = get_benchmark("humaneval")
    sample = load_samples(spec, source="bundled", limit=1)[0][0]
    body = json.loads(open(spec.bundled_path()).readline())["canonical_solution"]
    out = load_metric("code_pass_at_k").compute(predictions=[[body]], references=[sample.reference])
    assert out["pass@1"] == 1.0


def test_bundled_math_answers_verify_against_their_solutions():
    from nebula_hub.verify.math import verify_math

    for name in ("math500", "aime"):
        spec = get_benchmark(name)
        samples, _ = load_samples(spec, source="bundled")
        rows = [json.loads(line) for line in open(spec.bundled_path())]
        for sample, row in zip(samples, rows, strict=True):
            solution = (
                row["solution"] if "\\boxed" in row["solution"] else row["solution"] + f" $\\boxed{{{row['answer']}}}$"
            )
            assert verify_math(solution, sample.reference).verdict == "pass", (name, sample.id)
    samples, _ = load_samples(get_benchmark("gsm8k"), source="bundled")
    for sample, line in zip(samples, open(get_benchmark("gsm8k").bundled_path()), strict=True):
        worked = json.loads(line)["answer"].rsplit("####", 1)[0]
        # the last number of the worked solution is the gold answer
        assert verify_math(worked, sample.reference).verdict == "pass", sample.id


def test_intervals():
    assert wilson_interval(0, 10) == (0.0, pytest.approx(0.2775, abs=1e-4))
    assert wilson_interval(10, 10)[1] == 1.0
    low, high = wilson_interval(50, 100)
    assert low < 0.5 < high and high - low == pytest.approx(0.192, abs=1e-3)
    assert bootstrap_interval([0, 1] * 50, seed=1) == bootstrap_interval([0, 1] * 50, seed=1)
    low, high = bootstrap_interval([0, 1] * 50)
    assert 0.38 < low < 0.5 < high < 0.62
    mean, (low, high) = average_interval([0.2, 0.4], [(0.1, 0.3), (0.3, 0.5)])
    assert mean == pytest.approx(0.3) and low < 0.3 < high
