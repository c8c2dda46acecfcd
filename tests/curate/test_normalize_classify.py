"""Normalize (cleaning, role order, think split) and rule-based task classification."""

import pytest

from nebula_hub.curate.classify import TaskClassifier, classify_by_rules
from nebula_hub.curate.document import make_document
from nebula_hub.curate.normalize import NormalizeFilter, clean_text, split_reasoning


def _doc(*turns, reference=None):
    return make_document([{"role": r, "content": c} for r, c in turns], {"name": "t"}, reference)


def test_clean_text():
    assert clean_text("  a\u00a0\u00a0b  \r\n\r\n\r\n\r\nc\u200b \x07") == "a  b\n\nc"
    code = "def f(x):\n    if x:\n        return 1\n    return 0"
    assert clean_text(code) == code, "indentation must survive normalization"
    assert clean_text("ﬁ", "NFKC") == "fi" and clean_text("ﬁ", "NFC") == "ﬁ"


@pytest.mark.parametrize(
    "content,reasoning,expected,ok",
    [
        ("answer", None, "answer", True),
        ("answer", "why", "<think>\nwhy\n</think>\n\nanswer", True),
        ("<reasoning>why</reasoning>answer", None, "<think>\nwhy\n</think>\n\nanswer", True),
        ("answer <think>late</think>", None, "<think>\nlate\n</think>\n\nanswer", True),
        ("<think>a</think>b<think>", None, None, False),
    ],
)
def test_split_reasoning(content, reasoning, expected, ok):
    out, good = split_reasoning(content, reasoning)
    assert good == ok
    if ok:
        assert out == expected


@pytest.mark.parametrize(
    "turns,reason",
    [
        ((("assistant", "hi"), ("user", "yo")), "bad_role_order"),
        ((("user", "a"), ("user", "b"), ("assistant", "c")), "bad_role_order"),
        ((("user", "a"), ("system", "s"), ("assistant", "c")), "bad_role_order"),
        ((("user", "  \u200b "), ("assistant", "c")), "empty_content"),
        ((("user", "a"), ("assistant", "<think>only thinking</think>")), "empty_content"),
        ((("user", "a"),), "no_assistant_reply"),
        ((("user", "a"), ("robot", "b")), "unknown_role"),
    ],
)
def test_normalize_rejects_with_reason(turns, reason):
    doc = _doc(*turns)
    result = NormalizeFilter().filter(doc)
    assert result == (False, reason), doc.metadata.get("rejection_detail")
    assert doc.metadata["rejection_detail"]


def test_normalize_keeps_and_rehashes():
    doc = _doc(("system", "s"), ("user", " What\u00a0is 2+2? "), ("assistant", "4"))
    old = doc.id
    assert NormalizeFilter().filter(doc) is True
    assert doc.metadata["messages"][1]["content"] == "What is 2+2?" and doc.text == "What is 2+2?"
    assert doc.id != old and len(doc.id) == 16
    rl = _doc(("user", "prompt only"))
    assert NormalizeFilter(require_assistant=False).filter(rl) is True


@pytest.mark.parametrize(
    "prompt,reference,label",
    [
        ("Write a function", {"tests": "assert f()"}, "code"),
        (
            "Describe owls.",
            {"constraints": {"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}},
            "instruction_following",
        ),
        ("Capital?", {"choices": ["a", "b"], "answer": "A"}, "knowledge"),
        ("How many apples are left?", {"answer": "4"}, "math"),
        ("Implement a Python function that reverses a list.", {}, "code"),
        ("Answer in all lowercase letters: describe rain.", {}, "instruction_following"),
        ("Solve the equation 3x = 12.", {}, "math"),
        ("Who wrote Hamlet?", {}, "knowledge"),
        ("Hello, how was your day?", {}, "general"),
    ],
)
def test_rule_classification(prompt, reference, label):
    assert classify_by_rules(prompt, reference)[0] == label


def test_classifier_annotates_every_document():
    docs = [
        _doc(("user", "Solve 2x = 4 for x."), ("assistant", "x = 2")),
        _doc(("user", "hey there"), ("assistant", "hi")),
    ]
    out = list(TaskClassifier().run(docs))
    assert [d.metadata["task"]["label"] for d in out] == ["math", "general"]
    assert all(0 < d.metadata["task"]["confidence"] <= 1 for d in out)
