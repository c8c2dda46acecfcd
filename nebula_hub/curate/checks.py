"""The checks one candidate response goes through, each giving a `verification` entry {verifier, verdict, score, detail}.

Dimensions (thresholds from `VerifyConfig`):
- format: think tags well formed, not truncated (`finish_reason == "length"`), answer length within the window;
- quality: repetition (Gopher's duplicate-line and top 2-gram measures, reused from datatrove), language mismatch
  with the prompt, refusal phrases, degenerate text (too few distinct characters);
- correctness: the shared verifiers of `nebula_hub.verify` against the record's reference (math answer, code tests,
  IFEval constraints) and multiple-choice letter matching;
- agreement: whether the candidate's final answer is the majority among the teacher samples (`majority_check`).

Example:
    >>> from nebula_hub.curate.sft_config import VerifyConfig
    >>> [v["verifier"] for v in quality_checks("Paris is the capital of France.", "Capital of France?", VerifyConfig())]
    ['repetition', 'language', 'refusal', 'degenerate']
"""

import re
from collections import Counter

from datatrove.pipeline.filters.gopher_repetition_filter import find_duplicates, find_top_duplicate, get_n_grams

from nebula_hub.curate.dedup import WordTokenizer


_WORDS = WordTokenizer()
_THINK_BLOCK = re.compile(r"^\s*<think>(.*?)</think>\s*", re.S)
_MC_LETTER = re.compile(
    r"(?:answer(?: is)?|option|choice)\s*[:\-]?\s*\(?([A-J])\)?(?![a-z])|^\s*\(?([A-J])[).:]?\s*$", re.I | re.M
)


def verdict(verifier: str, ok: bool | str, score: float | None = None, detail: str = "") -> dict:
    """A `verification` entry; `ok` may be a verdict string (pass, fail, timeout, crash, error, unparsable)."""
    value = ok if isinstance(ok, str) else ("pass" if ok else "fail")
    return {
        "verifier": verifier,
        "verdict": value,
        "score": float(score if score is not None else value == "pass"),
        "detail": detail[:500],
    }


def split_answer(text: str) -> tuple[str, str]:
    """(reasoning, answer) of a response with an optional leading `<think>` block."""
    match = _THINK_BLOCK.match(text)
    if match:
        return match.group(1).strip(), text[match.end() :].strip()
    return "", text.strip()


def format_check(text: str, finish_reason: str | None, cfg) -> dict:
    if finish_reason == "length":
        return verdict("format", False, detail="truncated: the sample hit max_tokens")
    if text.count("<think>") != text.count("</think>") or text.count("<think>") > 1:
        return verdict("format", False, detail="malformed <think> block")
    if "<think>" in text and not _THINK_BLOCK.match(text):
        return verdict("format", False, detail="<think> block does not lead the response")
    _, answer = split_answer(text)
    if len(answer) < cfg.min_chars:
        return verdict("format", False, detail=f"answer has {len(answer)} characters < min_chars={cfg.min_chars}")
    if len(text) > cfg.max_chars:
        return verdict("format", False, detail=f"{len(text)} characters > max_chars={cfg.max_chars}")
    return verdict("format", True, detail=f"{len(answer)} answer characters")


def quality_checks(text: str, prompt: str, cfg) -> list[dict]:
    _, answer = split_answer(text)
    out = []
    lines = [line for line in answer.split("\n") if line.strip()]
    words = _WORDS.word_tokenize(answer) if answer else []
    # Gopher's measures are meant for documents: short answers (few lines, < 50 words) are not judged on them
    dup_lines = find_duplicates(lines)[0] / len(lines) if len(lines) >= 4 else 0.0
    top_2gram = find_top_duplicate(get_n_grams(words, 2)) / max(len(answer), 1) if len(words) >= 50 else 0.0
    ok = dup_lines <= cfg.max_duplicate_line_fraction and top_2gram <= cfg.max_top_ngram_fraction
    out.append(
        verdict(
            "repetition",
            ok,
            1.0 - max(dup_lines, top_2gram),
            f"duplicate lines {dup_lines:.2f}, top 2-gram share {top_2gram:.2f}",
        )
    )
    if cfg.check_language:
        out.append(language_check(answer, prompt))
    refusal = next((p for p in cfg.refusal_patterns if re.search(p, answer, re.I)), None)
    out.append(verdict("refusal", refusal is None, detail=f"matches {refusal!r}" if refusal else "no refusal phrase"))
    letters = [c for c in answer if not c.isspace()]
    ratio = len(set(letters)) / len(letters) if letters else 0.0
    ok = bool(letters) and (len(letters) < 50 or ratio >= cfg.min_unique_char_ratio)
    alnum = sum(c.isalnum() for c in letters) / len(letters) if letters else 0.0
    ok = ok and (len(letters) < 20 or alnum >= 0.3)
    out.append(verdict("degenerate", ok, detail=f"distinct-character ratio {ratio:.3f}, alphanumeric {alnum:.2f}"))
    return out


def language_check(answer: str, prompt: str) -> dict:
    from nebula_hub.verify.ifeval.text import detect_language

    # langdetect is unreliable on short or code-heavy text: those are not judged
    if len(answer) < 100 or len(prompt) < 100 or "```" in answer:
        return verdict("language", True, detail="too short or code: not judged")
    want, got = detect_language(prompt), detect_language(answer)
    if want is None or got is None or want == got:
        return verdict("language", True, detail=f"prompt {want}, response {got}")
    return verdict("language", False, detail=f"prompt is {want!r} but the response is {got!r}")


def needs_code_check(reference: dict) -> bool:
    """Whether `correctness_check` runs the record's code tests (not multiple choice, has tests)."""
    return not (reference.get("choices") and reference.get("answer") is not None) and bool(reference.get("tests"))


def correctness_check(
    task: str, text: str, reference: dict, prompt: str, cfg, code_result: dict | None = None
) -> dict | None:
    """The verifier for the record's reference, or None when there is nothing to check against.

    `code_result` is this response's code verdict when it was computed ahead in a batch (`code_checks`).
    """
    _, answer = split_answer(text)
    if reference.get("choices") and reference.get("answer") is not None:
        return multiple_choice_check(answer, reference["answer"], reference["choices"])
    if reference.get("tests"):
        if code_result is not None:
            return code_result
        return code_check(answer, reference["tests"], cfg.code_timeout_s)
    if reference.get("constraints"):
        from nebula_hub.verify.ifeval import check_constraints

        return _from_result(check_constraints(answer, reference["constraints"], prompt=prompt))
    if reference.get("answer") is not None and task in ("math", "knowledge", "general"):
        return math_check(text, reference["answer"])
    return None


def math_check(text: str, gold: str) -> dict:
    from nebula_hub.curate._verifiers import verify_math

    return _from_result(verify_math(text, gold))


def code_check(answer: str, tests, timeout_s: float) -> dict:
    from nebula_hub.curate._verifiers import verify_code

    return _from_result(verify_code(answer, tests, timeout_s))


def code_checks(pairs: list[tuple[str, object]], timeout_s: float) -> list[dict]:
    """`code_check(answer, tests, timeout_s)` for many (answer, tests) pairs at once (sandbox runs in parallel)."""
    from nebula_hub.curate._verifiers import verify_code_many

    return [_from_result(r) for r in verify_code_many(pairs, timeout_s)]


def multiple_choice_check(answer: str, gold, choices: list[str]) -> dict:
    letters = "ABCDEFGHIJ"[: len(choices)]
    gold = str(gold).strip()
    gold_letter = letters[int(gold)] if gold.isdigit() and int(gold) < len(letters) else gold.upper()[:1]
    found = extract_choice(answer, choices)
    if found is None:
        return verdict("multiple_choice", "fail", detail="no choice letter found in the answer")
    return verdict("multiple_choice", found == gold_letter, detail=f"answered {found}, gold {gold_letter}")


def extract_choice(answer: str, choices: list[str]) -> str | None:
    letters = "ABCDEFGHIJ"[: len(choices)]
    for match in _MC_LETTER.finditer(answer):
        letter = (match.group(1) or match.group(2)).upper()
        if letter in letters:
            return letter
    lowered = answer.lower()
    hits = [letters[i] for i, c in enumerate(choices) if c and c.lower() in lowered]
    return hits[0] if len(hits) == 1 else None


def final_answer(task: str, text: str, reference: dict) -> str | None:
    """The comparable final answer of a response (for agreement): a choice letter, or the math answer string."""
    _, answer = split_answer(text)
    if reference.get("choices"):
        return extract_choice(answer, reference["choices"])
    if task == "math":
        from nebula_hub.curate._verifiers import extract_math_answer

        return extract_math_answer(text)
    return None


def majority_check(answers: list[str | None], mine: str | None, min_fraction: float) -> dict:
    """Agreement: is `mine` the majority answer among the teacher samples, with at least `min_fraction` of them?"""
    counted = Counter(a for a in answers if a is not None)
    if not counted:
        return verdict("agreement", "unparsable", detail="no sample has an extractable final answer")
    top, votes = counted.most_common(1)[0]
    share = votes / len(answers)
    if mine is None:
        return verdict("agreement", "unparsable", 0.0, "this sample has no extractable final answer")
    ok = mine == top and share >= min_fraction
    return verdict(
        "agreement",
        ok,
        counted[mine] / len(answers),
        f"answer {mine!r} has {counted[mine]}/{len(answers)} votes; majority {top!r} ({votes})",
    )


def _from_result(result) -> dict:
    entry = result.as_record()
    entry["detail"] = entry["detail"][:500]
    return entry
