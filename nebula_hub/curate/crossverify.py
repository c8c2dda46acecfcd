"""Multi-dimensional cross-verification: check every candidate response, keep the best passing one, else reject.

Candidates are the source's own response and any teacher samples (`ResponseDistiller`). Each gets format, quality,
correctness and (for teacher samples, when there are at least two) agreement verdicts, plus an optional LLM-judge
score; a candidate passes when every verdict is `pass`. The best passing candidate (highest mean score, ties broken
by `prefer`) becomes the final assistant turn, its verdicts the record's `verification`, and `teacher` is set when a
teacher sample won. A record with no passing candidate is rejected as `failed_<verifier>` (the first check the
source's response failed, e.g. `failed_math`, `failed_code`, `failed_ifeval`, `failed_format`), with every
candidate's verdicts attached.

Example:
    >>> from nebula_hub.curate.sft_config import VerifyConfig
    >>> f = CrossVerifyFilter(VerifyConfig())
    >>> f.filter(doc_with_wrong_math_answer)                          # doctest: +SKIP
    (False, 'failed_math')
"""

import json
import re

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter

from nebula_hub.curate.checks import (
    code_checks,
    correctness_check,
    final_answer,
    format_check,
    majority_check,
    needs_code_check,
    quality_checks,
    split_answer,
    verdict,
)
from nebula_hub.curate.document import refresh, reject


class CrossVerifyFilter(BaseFilter):
    """Keeps a record with its best verified response; rejects it with every verdict otherwise.

    Args:
        config (`VerifyConfig`): thresholds (length window, repetition, language, refusal, agreement, judge, prefer).
        cache_dir (`str`, *optional*): generation cache of the optional judge.
        exclusion_writer (`DiskWriter`, *optional*): receives rejected documents.
    """

    name = "✅ Cross-verify"

    def __init__(self, config, cache_dir: str | None = None, exclusion_writer=None, batch_size: int = 64):
        super().__init__(exclusion_writer, batch_size=batch_size)
        self.config = config
        self.cache_dir = cache_dir
        self._judge = None

    def filter_batch(self, batch: list[Document]) -> list[bool | tuple[bool, str]]:
        code = self._code_results(batch)
        checked = [self.check_candidates(doc, code.get(id(doc))) for doc in batch]
        if self.config.judge is not None:
            self._add_judge_scores(batch, checked)
        return [self.decide(doc, cands) for doc, cands in zip(batch, checked, strict=False)]

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        return self.filter_batch([doc])[0]

    def warm_up(self) -> None:
        """Load the language profiles and math-verify's parsers (before worker processes fork, so they share them)."""
        from nebula_hub.curate.checks import language_check, math_check

        language_check("Warm-up text long enough for the language detector to look at it. " * 2, "Warm-up prompt " * 8)
        math_check("The answer is $\\boxed{2}$.", "2")

    def _code_results(self, batch: list[Document]) -> dict[int, list[dict]]:
        """The code verdicts of every candidate of the batch's code records, run together over the sandbox workers:
        {id(doc): [verdict per candidate]}, in the order `check_candidates` sees the candidates."""
        owners, pairs = [], []
        for doc in batch:
            reference = doc.metadata.get("reference") or {}
            if needs_code_check(reference):
                answers = [split_answer(c["text"] or "")[1] for c in _candidates(doc.metadata)]
                owners.append((id(doc), len(answers)))
                pairs.extend((a, reference["tests"]) for a in answers)
        if not pairs:
            return {}
        results = iter(code_checks(pairs, self.config.code_timeout_s))
        return {key: [next(results) for _ in range(n)] for key, n in owners}

    def check_candidates(self, doc: Document, code_results: list[dict] | None = None) -> list[dict]:
        md = doc.metadata
        task = (md.get("task") or {}).get("label", "general")
        reference = md.get("reference") or {}
        prompt = doc.text
        candidates = _candidates(md)
        md.pop("candidates", None)
        teacher = [c for c in candidates if c["origin"] == "teacher"]
        answers = [final_answer(task, c["text"], reference) for c in teacher] if len(teacher) >= 2 else []
        for k, cand in enumerate(candidates):
            text = cand["text"] or ""
            checks = [
                format_check(text, cand.get("finish_reason"), self.config),
                *quality_checks(text, prompt, self.config),
            ]
            correct = correctness_check(
                task, text, reference, prompt, self.config, code_results[k] if code_results else None
            )
            if correct is not None:
                checks.append(correct)
            if cand["origin"] == "teacher" and answers and any(a is not None for a in answers):
                checks.append(
                    majority_check(answers, final_answer(task, text, reference), self.config.agreement_min_fraction)
                )
            cand["verification"] = checks
        return candidates

    def decide(self, doc: Document, candidates: list[dict]) -> bool | tuple[bool, str]:
        def passed(c):
            return all(v["verdict"] == "pass" for v in c["verification"])

        def rank(c):
            scores = [v["score"] for v in c["verification"]]
            preferred = (c["origin"] == "teacher") == (self.config.prefer == "teacher")
            return (sum(scores) / len(scores), preferred)

        passing = [c for c in candidates if passed(c)]
        for c in candidates:
            self.stat_update(f"{c['origin']}_{'pass' if passed(c) else 'fail'}")
        md = doc.metadata
        summary = [
            {
                "origin": c["origin"],
                "passed": passed(c),
                "failed": [v["verifier"] for v in c["verification"] if v["verdict"] != "pass"],
            }
            for c in candidates
        ]
        provenance = md.pop("teacher_provenance", None)
        if not passing:
            md["candidates"] = candidates
            first = candidates[0]
            failing = next((v for v in first["verification"] if v["verdict"] != "pass"), None)
            reason = f"failed_{failing['verifier']}" if failing else "no_passing_response"
            detail = "; ".join(
                f"{c['origin']}: "
                + ", ".join(
                    f"{v['verifier']}={v['verdict']} ({v['detail']})"
                    for v in c["verification"]
                    if v["verdict"] != "pass"
                )
                for c in candidates
            )
            return reject(doc, reason, detail)
        best = max(passing, key=rank)
        messages = md["messages"]
        for i in range(len(messages) - 1, -1, -1):
            if messages[i]["role"] == "assistant":
                messages[i] = {"role": "assistant", "content": best["text"]}
                break
        md["verification"] = best["verification"]
        md["teacher"] = provenance if best["origin"] == "teacher" else None
        md.setdefault("meta", {})["candidates"] = json.loads(json.dumps(summary))
        md["meta"]["response_origin"] = best["origin"]
        self.stat_update(f"kept_{best['origin']}")
        refresh(doc)
        return True

    def _add_judge_scores(self, batch: list[Document], checked: list[list[dict]]) -> None:
        from nebula_hub.curate.generation import CachedGenerator

        if self._judge is None:
            self._judge = CachedGenerator(self.config.judge, self.cache_dir)
        pending = [
            (doc, c)
            for doc, cands in zip(batch, checked, strict=False)
            for c in cands
            if all(v["verdict"] == "pass" for v in c["verification"])
        ]
        if not pending:
            return
        prompts = [
            [
                {
                    "role": "user",
                    "content": "Rate the response to the request from 1 (useless) to 10 (excellent). "
                    f"Reply with the number only.\n\nRequest:\n{doc.text[:3000]}\n\nResponse:\n{c['text'][:6000]}",
                }
            ]
            for doc, c in pending
        ]
        for (_doc, cand), samples in zip(pending, self._judge.generate(prompts), strict=False):
            scores = [float(m.group()) for s in samples if (m := re.search(r"\b(10|[1-9])\b", s["text"]))]
            if not scores:
                cand["verification"].append(verdict("judge", "unparsable", 0.0, "judge gave no score"))
                continue
            mean = sum(scores) / len(scores)
            cand["verification"].append(
                verdict(
                    "judge",
                    mean >= self.config.judge_min_score,
                    mean / 10,
                    f"judge score {mean:.1f} (min {self.config.judge_min_score})",
                )
            )


def _candidates(md: dict) -> list[dict]:
    return md.get("candidates") or [{"origin": "source", "text": _last_assistant(md["messages"])}]


def _last_assistant(messages: list[dict]) -> str:
    for m in reversed(messages):
        if m["role"] == "assistant":
            return m["content"]
    return ""
