"""Cross-verification, difficulty grading, decontamination and diversity sampling, step by step."""

import json

import pytest

from nebula_hub.curate.checks import format_check, majority_check, quality_checks
from nebula_hub.curate.crossverify import CrossVerifyFilter
from nebula_hub.curate.decont import DecontaminationFilter, build_decont_index
from nebula_hub.curate.document import make_document
from nebula_hub.curate.grade import DifficultyGrader, level_for
from nebula_hub.curate.sample import DiversitySampler, task_quotas
from nebula_hub.curate.sft_config import BenchmarkConfig, GradeConfig, ModelConfig, SampleConfig, VerifyConfig


def _doc(prompt, response, task, reference=None, candidates=None):
    doc = make_document(
        [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}],
        {"name": "t", "original_id": "1", "license": "mit"},
        reference,
    )
    doc.metadata["task"] = {"label": task, "confidence": 1.0}
    if candidates is not None:
        doc.metadata["candidates"] = [{"origin": "source", "text": response}] + candidates
        doc.metadata["teacher_provenance"] = {
            "model": "teach",
            "revision": None,
            "backend": "transformers",
            "sampling": {"n": len(candidates), "temperature": 0.7},
        }
    return doc


def test_format_and_quality_checks():
    cfg = VerifyConfig()
    assert format_check("x", "length", cfg)["detail"].startswith("truncated")
    assert format_check("<think>a", "stop", cfg)["verdict"] == "fail"
    assert format_check("<think>a</think>\n\nok", "stop", cfg)["verdict"] == "pass"
    names = {v["verifier"]: v["verdict"] for v in quality_checks("\n".join(["same line"] * 8), "prompt", cfg)}
    assert names["repetition"] == "fail"
    assert {v["verifier"]: v["verdict"] for v in quality_checks("I can't help with that.", "p", cfg)}[
        "refusal"
    ] == "fail"
    french = "Ceci est une longue réponse écrite entièrement en français pour vérifier la détection de la langue ici, avec assez de mots."
    english = "Please write a long answer in plain English about the history of bridges and how they were built over the centuries."
    assert {v["verifier"]: v["verdict"] for v in quality_checks(french, english, cfg)}["language"] == "fail"


def test_majority_agreement():
    assert majority_check(["4", "4", "5"], "4", 0.5)["verdict"] == "pass"
    assert majority_check(["4", "4", "5"], "5", 0.5)["verdict"] == "fail"
    assert majority_check([None, None], None, 0.5)["verdict"] == "unparsable"


def test_wrong_math_source_is_rejected_with_every_verdict():
    doc = _doc("What is 2 + 3?", "It is $\\boxed{6}$.", "math", {"answer": "5"})
    assert CrossVerifyFilter(VerifyConfig()).filter(doc) == (False, "failed_math")
    assert "math=fail" in doc.metadata["rejection_detail"]
    assert [v["verifier"] for v in doc.metadata["candidates"][0]["verification"]][0] == "format"


def test_a_verified_teacher_sample_replaces_a_failing_source_response():
    teacher = [
        {"origin": "teacher", "index": j, "text": "2 + 3 = 5, so the answer is $\\boxed{5}$.", "finish_reason": "stop"}
        for j in range(2)
    ]
    doc = _doc("What is 2 + 3?", "It is $\\boxed{6}$.", "math", {"answer": "5"}, teacher)
    assert CrossVerifyFilter(VerifyConfig()).filter(doc) is True
    md = doc.metadata
    assert "\\boxed{5}" in md["messages"][-1]["content"] and md["teacher"]["model"] == "teach"
    assert {v["verifier"] for v in md["verification"]} >= {"format", "math", "agreement"}
    assert md["meta"]["response_origin"] == "teacher"


def test_the_source_response_is_kept_when_teacher_samples_fail():
    teacher = [{"origin": "teacher", "index": 0, "text": "zzz", "finish_reason": "length"}]
    doc = _doc("What is 2 + 3?", "The sum is $\\boxed{5}$.", "math", {"answer": "5"}, teacher)
    assert CrossVerifyFilter(VerifyConfig()).filter(doc) is True
    assert doc.metadata["teacher"] is None and doc.metadata["meta"]["candidates"][1]["failed"] == ["format", "math"]


@pytest.mark.parametrize(
    "task,reference,response,reason",
    [
        (
            "code",
            {"tests": {"kind": "assert", "assert_code": "assert f(2) == 4"}},
            "```python\ndef f(x):\n    return x + 1\n```",
            "failed_code",
        ),
        (
            "instruction_following",
            {"constraints": {"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}},
            "Red, green and blue.",
            "failed_ifeval",
        ),
        ("knowledge", {"choices": ["Paris", "Rome"], "answer": "A"}, "The answer is B.", "failed_multiple_choice"),
    ],
)
def test_correctness_failures(task, reference, response, reason):
    assert CrossVerifyFilter(VerifyConfig()).filter(_doc("prompt", response, task, reference)) == (False, reason)


def test_passing_code_is_kept():
    doc = _doc(
        "Double it",
        "```python\ndef f(x):\n    return 2 * x\n```",
        "code",
        {"tests": {"kind": "assert", "assert_code": "assert f(2) == 4"}},
    )
    assert CrossVerifyFilter(VerifyConfig()).filter(doc) is True
    assert {v["verifier"]: v["verdict"] for v in doc.metadata["verification"]}["code"] == "pass"


def test_levels():
    assert [level_for(r, 0.75, 0.25) for r in (0.0, 0.25, 0.5, 0.75, 1.0)] == [
        "hard",
        "hard",
        "medium",
        "easy",
        "easy",
    ]


def test_grader_pass_rate_matches_the_verifier(monkeypatch):
    samples = [{"text": t, "finish_reason": "stop"} for t in ("$\\boxed{5}$", "$\\boxed{4}$", "$\\boxed{5}$", "no")]
    from nebula_hub.curate import generation

    monkeypatch.setattr(generation.CachedGenerator, "generate", lambda self, convs: [samples for _ in convs])
    docs = [_doc("What is 2 + 3?", "5", "math", {"answer": "5"}), _doc("Tell me a story", "x" * 2000, "general")]
    out = list(DifficultyGrader(GradeConfig(grader=ModelConfig(n=4)), VerifyConfig()).run(docs))
    assert out[0].metadata["difficulty"] == {"level": "medium", "pass_rate": 0.5, "num_samples": 4}
    assert out[1].metadata["difficulty"] == {"level": "hard", "pass_rate": None, "num_samples": 0}


def test_decontamination_matches_benchmark_ngrams(tmp_path):
    bench = tmp_path / "bench.jsonl"
    bench.write_text(
        json.dumps(
            {"question": "A train leaves the station at noon travelling at sixty miles per hour towards the coast"}
        )
        + "\n"
    )
    counts = build_decont_index([BenchmarkConfig(name="trains", path=str(bench))], tmp_path / "index", n_grams=8)
    assert counts == {"trains": 1}
    flt = DecontaminationFilter(str(tmp_path / "index"), n_grams=8)
    hit = _doc("Quick: a train leaves the station at noon travelling at sixty miles per hour. Where?", "x", "math")
    assert flt.filter(hit) == (False, "contaminated")
    assert hit.metadata["contaminated_benchmark"] == "trains" and "8-gram" in hit.metadata["rejection_detail"]
    assert flt.filter(_doc("A bus leaves at noon and arrives at three in the afternoon.", "x", "math")) is True


def test_task_quotas():
    assert task_quotas({"math": 10, "code": 2}, 8, {"math": 1, "code": 1}) == {"code": 2, "math": 6}
    assert task_quotas({"math": 10, "code": 10}, 6, {"math": 2, "code": 1}) == {"code": 2, "math": 4}
    assert task_quotas({"math": 10, "chat": 5}, 20, {"math": 1}) == {"chat": 0, "math": 10}
    assert sum(task_quotas({"a": 7, "b": 7, "c": 7}, 10, {}).values()) == 10


def test_sampler_spreads_over_clusters_and_is_deterministic():
    family = [
        _doc(f"Tom has {i} apples and buys {i + 2} more at the shop. How many apples does he have?", "x", "math")
        for i in range(30)
    ]
    rare = [
        _doc(p, "x", "math")
        for p in (
            "Compute the area of a circle of radius two metres exactly.",
            "What is the derivative of the sine function at zero?",
            "Factor the polynomial x squared minus nine over the integers.",
        )
    ]
    cfg = SampleConfig(target_size=5, balance=[])
    kept = list(DiversitySampler(cfg).run(family + rare))
    prompts = {d.text for d in kept}
    assert all(d.text in prompts for d in rare), "rare prompts were crowded out by the templated family"
    assert [d.id for d in kept] == [d.id for d in DiversitySampler(cfg).run(list(reversed(family + rare)))]


def test_batched_code_checks_equal_one_by_one_checks():
    from nebula_hub.curate.checks import code_check, code_checks

    tests = {"kind": "assert", "assert_code": "assert f(2) == 4"}
    answers = [
        "```python\ndef f(x):\n    return 2 * x\n```",  # passes
        "```python\ndef f(x):\n    return x + 1\n```",  # fails a test
        "```python\ndef f(x) return\n```",  # fenced, not Python
        "def f(x):\n    return x * x",  # no fence: the whole text is the program
        "I do not know.",  # no fence, not Python
        "```python\ndef f(x):\n",  # unclosed fence
    ]
    batched = code_checks([(a, tests) for a in answers], 5.0)
    single = [code_check(a, tests, 5.0) for a in answers]
    assert [v["verdict"] for v in batched] == ["pass", "fail", "fail", "pass", "fail", "fail"]
    strip = lambda vs: [{k: v[k] for k in ("verifier", "verdict", "score")} for v in vs]  # noqa: E731
    assert strip(batched) == strip(single)


def test_a_batch_with_code_and_teacher_candidates_decides_as_one_by_one():
    tests = {"kind": "assert", "assert_code": "assert f(2) == 4"}
    good, bad = "```python\ndef f(x):\n    return 2 * x\n```", "```python\ndef f(x):\n    return x\n```"

    def docs():
        return [
            _doc("Double it", bad, "code", {"tests": tests}, [{"origin": "teacher", "text": good}]),
            _doc("Double it too", bad, "code", {"tests": tests}),
            _doc("What is 2+2?", "The answer is $\\boxed{4}$.", "math", {"answer": "4"}),
            _doc("Double it again", good, "code", {"tests": tests}, [{"origin": "teacher", "text": bad}] * 2),
        ]

    step = CrossVerifyFilter(VerifyConfig())
    batch, alone = docs(), docs()
    assert step.filter_batch(batch) == [step.filter(d) for d in alone] == [True, (False, "failed_code"), True, True]
    assert [d.metadata for d in batch] == [d.metadata for d in alone]
