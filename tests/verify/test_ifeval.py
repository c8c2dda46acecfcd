"""The instruction-following verifier's API: constraint layouts, strict/loose modes, clear errors, the generator."""

import doctest
import importlib
import json
import random

import pytest

from nebula_hub.verify import VerificationResult
from nebula_hub.verify.ifeval import (
    CONFLICTS,
    IFEVAL_INSTRUCTION_IDS,
    INSTRUCTIONS,
    InvalidConstraintError,
    check_constraints,
    check_instruction,
    check_record,
    describe_constraints,
    get_instruction,
    parse_constraints,
    sample_constraints,
)


def test_registry_has_ifevals_25_ids():
    assert len(IFEVAL_INSTRUCTION_IDS) == 25 == len(set(IFEVAL_INSTRUCTION_IDS))
    for expected in (
        "keywords:existence", "keywords:letter_frequency", "length_constraints:number_words",
        "detectable_format:json_format", "change_case:english_lowercase", "language:response_language",
        "startend:quotation", "combination:repeat_prompt", "punctuation:no_comma",
    ):  # fmt: skip
        assert expected in IFEVAL_INSTRUCTION_IDS
    assert set(IFEVAL_INSTRUCTION_IDS) < set(INSTRUCTIONS)
    # The conflict table is symmetric and every instruction conflicts with itself.
    for a, others in CONFLICTS.items():
        assert a in others
        for b in others:
            assert a in CONFLICTS[b], (a, b)


# (name, instruction id, kwargs, response, strict, loose)
CASES = [
    ("quotation after a preamble line", "startend:quotation", {}, 'Sure, here it is:\n"All quoted."', False, True),
    ("json in asterisks", "detectable_format:json_format", {}, '*{"a": 1}*', False, True),
    ("json in a fence", "detectable_format:json_format", {}, '```json\n{"a": [1, 2]}\n```', True, True),
    ("comma only in the last line", "punctuation:no_comma", {}, "No commas here\nBye, then", False, True),
    ("blank response follows nothing", "keywords:forbidden_words", {"forbidden_words": ["cat"]}, "  \n ", False, False),
    ("keyword as regex", "keywords:existence", {"keywords": ["c.t"]}, "a cot", True, True),
    ("invalid regex keyword matched literally", "keywords:existence", {"keywords": ["c++"]}, "I like C++.", True, True),
    ("invalid regex marker matched literally", "detectable_content:postscript", {"postscript_marker": "PS("},
     "Hi.\nPS( later", True, True),
    ("invalid regex forbidden word", "keywords:forbidden_words", {"forbidden_words": ["(c"]}, "x(c b", False, False),
    ("forbidden whole word only", "keywords:forbidden_words", {"forbidden_words": ["cat"]}, "concatenate", True, True),
    ("letter counted case-insensitively", "keywords:letter_frequency",
     {"letter": "A", "let_frequency": 3, "let_relation": "at least"}, "Aa a", True, True),
    ("paragraph first word", "length_constraints:nth_paragraph_first_word",
     {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "Then"}, "First.\n\n\"Then, more.", True, True),
    ("title", "detectable_format:title", {}, "<<A Title>>\nbody", True, True),
    ("empty title", "detectable_format:title", {}, "<<   >>\nbody", False, False),
    ("two responses", "combination:two_responses", {}, "one\n******\ntwo", True, True),
    ("two identical responses", "combination:two_responses", {}, "one\n******\none", False, False),
    ("undetectable language counts as followed", "language:response_language", {"language": "de"}, "1234", True, True),
    ("french is not german", "language:response_language", {"language": "de"},
     "Ceci est une phrase écrite entièrement en français.", False, False),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_check_instruction_strict_and_loose(case):
    name, instruction_id, kwargs, response, strict, loose = case
    assert check_instruction(instruction_id, kwargs, "prompt", response) is strict, name
    assert check_instruction(instruction_id, kwargs, "prompt", response, loose=True) is loose, name


def test_check_constraints_result_in_both_layouts():
    ifeval_layout = {
        "instruction_id_list": ["punctuation:no_comma", "startend:quotation", "length_constraints:number_words"],
        "kwargs": [{}, {}, {"num_words": 50, "relation": "at least"}],
    }
    list_layout = [
        {"id": i, "kwargs": k}
        for i, k in zip(ifeval_layout["instruction_id_list"], ifeval_layout["kwargs"], strict=True)
    ]
    response = 'Intro line\n"no commas in here"'
    for constraints in (ifeval_layout, list_layout, json.dumps(ifeval_layout), json.dumps(list_layout)):
        result = check_constraints(response, constraints)
        assert isinstance(result, VerificationResult) and result.verifier == "ifeval"
        assert result.verdict == "fail" and result.score == pytest.approx(1 / 3)
        assert result.extra["follow_instruction_list_strict"] == [True, False, False]
        assert result.extra["follow_instruction_list_loose"] == [True, True, False]
        assert result.extra["follow_all_instructions_strict"] is False
        assert "not followed: startend:quotation, length_constraints:number_words" in result.detail
        loose = check_constraints(response, constraints, loose=True)
        assert loose.score == pytest.approx(2 / 3) and loose.extra["mode"] == "loose"
        assert loose.extra["follow_instruction_list_strict"] == result.extra["follow_instruction_list_strict"]


def test_check_constraints_pass_and_hub_layout_with_null_kwargs():
    # The Hub copy of IFEval stores every kwarg name in every dict, unused ones as null.
    hub_kwargs = {"num_highlights": None, "relation": None, "num_words": None, "keywords": None}
    constraints = {"instruction_id_list": ["punctuation:no_comma"], "kwargs": [hub_kwargs]}
    result = check_constraints("fine", constraints)
    assert result.verdict == "pass" and result.score == 1.0 and bool(result)


def test_check_record_gives_ifeval_output_fields():
    out = check_record(
        {"prompt": "p", "response": "hello", "instruction_id_list": ["change_case:english_lowercase"], "kwargs": [{}]}
    )
    assert set(out) == {
        "follow_instruction_list_strict", "follow_instruction_list_loose",
        "follow_all_instructions_strict", "follow_all_instructions_loose",
    }  # fmt: skip
    with pytest.raises(InvalidConstraintError, match="record has no 'response' field"):
        check_record({"prompt": "p", "instruction_id_list": [], "kwargs": []})
    with pytest.raises(InvalidConstraintError, match="empty 'instruction_id_list'"):
        check_record({"prompt": "p", "response": "r", "instruction_id_list": [], "kwargs": []})
    with pytest.raises(InvalidConstraintError, match="constraint #0: instruction 'startend:end_checker'"):
        check_record({"response": "r", "instruction_id_list": ["startend:end_checker"], "kwargs": [{}]})
    assert check_constraints("r", []).verdict == "unparsable"


# (constraints, fragments the error message must contain)
BAD = [
    ({"instruction_id_list": ["keywords:existance"], "kwargs": [{}]}, ["'keywords:existance'", "unknown"]),
    ({"instruction_id_list": ["length_constraints:number_words"], "kwargs": [{"num_words": 5}]},
     ["length_constraints:number_words", "missing kwarg 'relation'"]),
    ({"instruction_id_list": ["length_constraints:number_words"], "kwargs": [{"num_words": 5, "relation": "at most"}]},
     ["'relation'", "'at most'"]),
    ({"instruction_id_list": ["length_constraints:number_words"], "kwargs": [{"num_words": -1, "relation": "at least"}]},
     ["'num_words'", "-1"]),
    ({"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{"letter": "a"}]},
     ["punctuation:no_comma", "unexpected kwarg 'letter'"]),
    ({"instruction_id_list": ["keywords:letter_frequency"],
      "kwargs": [{"letter": "ab", "let_frequency": 2, "let_relation": "at least"}]}, ["'letter'", "'ab'"]),
    ({"instruction_id_list": ["language:response_language"], "kwargs": [{"language": "xx"}]}, ["'language'", "'xx'"]),
    ({"instruction_id_list": ["keywords:existence"], "kwargs": [{"keywords": []}]}, ["'keywords'", "[]"]),
    ({"instruction_id_list": ["length_constraints:nth_paragraph_first_word"],
      "kwargs": [{"num_paragraphs": 2, "nth_paragraph": 3, "first_word": "so"}]}, ["'nth_paragraph'", "(3)"]),
    ({"instruction_id_list": ["punctuation:no_comma", "startend:quotation"], "kwargs": [{}]}, ["one dict per instruction"]),
    ([{"id": "punctuation:no_comma"}, {"kwargs": {}}], ["constraint #1", "'id'"]),
    ("{not json", ["not JSON"]),
    ([{"id": "startend:quotation", "kwargs": {}}, {"id": "startend:end_checker", "kwargs": {"end_phrase": " "}}],
     ["constraint #1", "startend:end_checker", "'end_phrase'"]),
]  # fmt: skip


@pytest.mark.parametrize("constraints, fragments", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_constraints_raise_clear_errors_and_never_pass(constraints, fragments):
    with pytest.raises(InvalidConstraintError) as info:
        parse_constraints(constraints)
    for fragment in fragments:
        assert fragment in info.value.message, (fragment, info.value.message)
    assert info.value.hint
    result = check_constraints("any response", constraints)
    assert result.verdict == "unparsable" and result.score == 0.0 and not result
    assert fragments[0] in result.detail


def test_unknown_id_suggests_the_close_one():
    with pytest.raises(InvalidConstraintError) as info:
        check_instruction("keywords:existance", {"keywords": ["a"]}, "p", "a")
    assert "did you mean 'keywords:existence'" in info.value.hint


def test_non_string_response_is_unparsable():
    result = check_constraints(None, {"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]})
    assert result.verdict == "unparsable" and "must be a string" in result.detail


def test_describe_constraints_uses_ifeval_texts():
    texts = describe_constraints(
        {
            "instruction_id_list": ["length_constraints:number_words", "keywords:existence"],
            "kwargs": [{"num_words": 300, "relation": "at least"}, {"keywords": ["zeta", "alpha"]}],
        }
    )
    assert texts == ["Answer with at least 300 words.", "Include keywords ['alpha', 'zeta'] in the response."]


def test_sample_constraints_is_reproducible_and_valid():
    assert sample_constraints(3, n=3, prompt="Seed.") == sample_constraints(random.Random(3), n=3, prompt="Seed.")
    rng = random.Random(0)
    seen = set()
    for trial in range(300):
        n = 1 + trial % 4
        prompt = f"Write about topic {trial}."
        sampled = sample_constraints(rng, n=n, prompt=prompt)
        ids = sampled.instruction_id_list
        seen.update(ids)
        assert len(ids) == n == len(sampled.kwargs) == len(sampled.instructions)
        for i, a in enumerate(ids):
            for b in ids[i + 1 :]:
                assert b not in CONFLICTS[a], (a, b)
        # The kwargs round-trip through the validator and give back the same texts.
        assert describe_constraints(sampled.as_constraints()) == sampled.instructions
        assert sampled.prompt.startswith(prompt)
        for text in sampled.instructions:
            assert text in sampled.prompt
        for kwargs in sampled.kwargs:
            for relation_key, threshold_key in (("relation", "num_words"), ("relation", "num_sentences"),
                                                ("let_relation", "let_frequency"), ("relation", "frequency"),
                                                ("capital_relation", "capital_frequency")):  # fmt: skip
                if kwargs.get(relation_key) == "less than" and threshold_key in kwargs:
                    assert kwargs[threshold_key] >= 2, kwargs
        if "combination:repeat_prompt" in ids:
            assert ids[-1] == "combination:repeat_prompt"
            repeated = sampled.kwargs[-1]["prompt_to_repeat"]
            assert sampled.prompt == repeated + "\n" + sampled.instructions[-1]
            assert check_instruction("combination:repeat_prompt", sampled.kwargs[-1], sampled.prompt, repeated + " ok")
    assert seen == set(IFEVAL_INSTRUCTION_IDS)


def test_sample_constraints_without_prompt_and_restricted():
    rng = random.Random(1)
    for _ in range(100):
        sampled = sample_constraints(rng, n=2)
        assert "combination:repeat_prompt" not in sampled.instruction_id_list and sampled.prompt is None
    only = sample_constraints(rng, n=1, instruction_ids=["startend:end_checker"])
    assert only.instruction_id_list == ["startend:end_checker"]
    end_phrase = only.kwargs[0]["end_phrase"]
    assert check_constraints(f"Done. {end_phrase}", only.as_constraints()).verdict == "pass"
    with pytest.raises(InvalidConstraintError, match="cannot sample n=3"):
        sample_constraints(rng, n=3, instruction_ids=["punctuation:no_comma", "startend:quotation"])
    with pytest.raises(InvalidConstraintError, match="not one of IFEval's 25"):
        sample_constraints(rng, n=1, instruction_ids=["keywords:key_sentences"])
    with pytest.raises(InvalidConstraintError, match="unknown instruction id"):
        sample_constraints(rng, n=1, instruction_ids=["keywords:nope"])
    with pytest.raises(InvalidConstraintError, match="no set of 2 mutually compatible"):
        sample_constraints(rng, n=2, instruction_ids=["detectable_format:constrained_response", "startend:quotation"])


def test_get_instruction_normalises_like_the_reference():
    inst = get_instruction("keywords:forbidden_words", {"forbidden_words": ["b", "a", "b"]})
    assert inst.args() == {"forbidden_words": ["a", "b"]}
    assert get_instruction("startend:end_checker", {"end_phrase": "  Bye.  "}).args() == {"end_phrase": "Bye."}
    assert get_instruction("length_constraints:number_words", {"num_words": 3.0, "relation": "at least"}).args() == {
        "num_words": 3,
        "relation": "at least",
    }


@pytest.mark.parametrize("module", ["__init__", "constraints", "instructions", "text"])
def test_docstring_examples_run(module):
    name = "nebula_hub.verify.ifeval" + ("" if module == "__init__" else f".{module}")
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0, f"{name}: {result.failed} failing examples"
