"""Difficulty grading of the RL pool: pass rates, bucket boundaries and the zero-variance flag.

The grader policy is faked (a generation backend whose samples pass a controlled number of times per prompt); the
verifiers are the real ones, and every expected pass rate is recomputed here by calling the verifier directly.
"""

import gzip
import json

import pytest
from datatrove.data import Document

from nebula_hub.config import from_dict
from nebula_hub.curate.rl_config import DifficultyConfig, RLPoolConfig
from nebula_hub.curate.rl_difficulty import ZeroVarianceFilter, grading_steps
from nebula_hub.errors import ConfigError
from nebula_hub.generate.base import Backend
from nebula_hub.generate.settings import BackendConfig, Completion
from nebula_hub.verify.ifeval import check_constraints


NO_COMMA = {"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}
PASSING, FAILING = "a calm reply", "a reply, with a comma"


class ScriptedBackend(Backend):
    """A fake grader policy: prompt text -> how many of the n samples follow the constraint."""

    name = "scripted"

    def __init__(self, passes: dict[str, int]):
        super().__init__(BackendConfig(model="scripted"))
        self.passes = passes
        self.calls: list[tuple[int, int]] = []

    def _generate(self, conversations, settings, progress, on_result):
        self.calls.append((len(conversations), settings.n))
        out = []
        for i, conv in enumerate(conversations):
            n = self.passes[conv[-1]["content"]]
            texts = [PASSING] * n + [FAILING] * (settings.n - n)
            out.append([Completion(t, "stop", 5, 4) for t in texts])
            on_result(i, out[-1])
        return out


@pytest.fixture
def fake_policy(monkeypatch):
    from nebula_hub.curate.generation import CachedGenerator

    def install(passes):
        backend = ScriptedBackend(passes)
        monkeypatch.setattr(CachedGenerator, "backend", lambda self: backend)
        return backend

    return install


def if_doc(text: str) -> Document:
    return Document(
        text=text,
        id=text,
        metadata={
            "messages": [{"role": "user", "content": text}],
            "task": {"label": "instruction_following", "confidence": 1.0},
            "reference": {"constraints": NO_COMMA},
            "source": {"name": "test"},
            "meta": {},
        },
    )


def pool_config(**difficulty) -> RLPoolConfig:
    return from_dict(RLPoolConfig, {"sources": [{"name": "s", "path": "x.jsonl", "task": "instruction_following"}],
                                    "grader": {"n": 8}, "difficulty": difficulty})


def run_steps(steps, docs):
    data = iter(docs)
    for step in steps:
        data = step.run(data, rank=0, world_size=1)
    return list(data)


@pytest.mark.parametrize(
    ("rate", "expected"),
    [(0.0, "hard"), (0.25, "hard"), (0.375, "medium"), (0.5, "medium"), (0.625, "medium"), (0.75, "easy"), (1.0, "easy")],
)
def test_bucket_boundaries_are_inclusive_at_the_thresholds(fake_policy, tmp_path, rate, expected):
    fake_policy({"q": int(rate * 8)})
    steps = grading_steps(pool_config(hard_max=0.25, easy_min=0.75), tmp_path)
    (doc,) = run_steps(steps, [if_doc("q")])
    assert doc.metadata["difficulty"]["pass_rate"] == rate
    assert doc.metadata["difficulty"]["level"] == expected


def test_custom_thresholds_move_the_buckets(fake_policy, tmp_path):
    fake_policy({"none": 0, "one": 1, "most": 7, "all": 8})
    steps = grading_steps(pool_config(hard_max=0.0, easy_min=1.0), tmp_path)
    docs = run_steps(steps, [if_doc(t) for t in ("none", "one", "most", "all")])
    assert [d.metadata["difficulty"]["level"] for d in docs] == ["hard", "medium", "medium", "easy"]


def test_thresholds_must_be_ordered():
    with pytest.raises(ConfigError, match="hard_max=0.8, easy_min=0.5"):
        DifficultyConfig(hard_max=0.8, easy_min=0.5)


def test_pass_rates_and_zero_variance_match_the_verifier_run_directly(fake_policy, tmp_path):
    k = 8
    wanted = {"p0": 0, "p1": 1, "p2": 2, "p4": 4, "p6": 6, "p7": 7, "p8": 8}
    backend = fake_policy(wanted)
    steps = grading_steps(pool_config(hard_max=0.25, easy_min=0.75, batch_size=3), tmp_path)
    docs = run_steps(steps, [if_doc(t) for t in wanted])

    assert [d.id for d in docs] == list(wanted)  # order kept, nothing dropped (zero variance is only flagged)
    assert backend.calls == [(3, k), (3, k), (1, k)]  # one policy call per batch of prompts, k samples each
    for doc in docs:
        responses = [c.text for c in backend.generate([doc.metadata["messages"]], _settings(k), progress=False)[0]]
        direct = sum(check_constraints(r, NO_COMMA).passed for r in responses) / k
        md = doc.metadata
        assert md["difficulty"]["pass_rate"] == pytest.approx(direct) == pytest.approx(wanted[doc.id] / k)
        assert md["meta"]["rollouts"] == k and md["meta"]["passes"] == wanted[doc.id]
        assert md["meta"]["zero_variance"] is (wanted[doc.id] in (0, k))
    levels = {d.id: d.metadata["difficulty"]["level"] for d in docs}
    assert levels == {"p0": "hard", "p1": "hard", "p2": "hard", "p4": "medium", "p6": "easy", "p7": "easy", "p8": "easy"}


def _settings(n):
    from nebula_hub.generate.settings import SamplingSettings

    return SamplingSettings(n=n)


def test_drop_zero_variance_rejects_all_pass_and_all_fail(fake_policy, tmp_path):
    fake_policy({"none": 0, "some": 2, "all": 8})
    steps = grading_steps(pool_config(drop_zero_variance=True), tmp_path)
    kept = run_steps(steps, [if_doc(t) for t in ("none", "some", "all")])
    assert [d.id for d in kept] == ["some"]
    rows = [json.loads(line) for p in (tmp_path / "rejected" / "difficulty").glob("*.jsonl.gz")
            for line in gzip.open(p, "rt")]
    assert sorted((r["id"], r["reason"]) for r in rows) == [("all", "zero_variance"), ("none", "zero_variance")]
    details = {r["id"]: r["detail"] for r in rows}
    assert details["all"].startswith("all 8 rollouts passed") and details["none"].startswith("all 8 rollouts failed")


def test_zero_variance_flag_follows_the_pass_count():
    for rate, n, flagged in [(0.0, 4, True), (1.0, 4, True), (0.25, 4, False), (0.999999, 1, True)]:
        doc = Document(text="q", id="x", metadata={"meta": {}, "difficulty": {"level": "x", "pass_rate": rate,
                                                                                "num_samples": n}})
        assert ZeroVarianceFilter().filter(doc) is True
        assert doc.metadata["meta"]["zero_variance"] is flagged
