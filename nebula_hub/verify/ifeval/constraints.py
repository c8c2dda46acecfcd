"""Check a response against IFEval-style constraints (strict and loose), and generate constraints for seed prompts.

Constraints come in IFEval's layout, `{"instruction_id_list": [...], "kwargs": [...]}`, as a list of
`{"id": ..., "kwargs": ...}`, or as either of these serialised to a JSON string (the form a Hub dataset column
holds). Strict and loose modes are those of the reference `evaluation_lib.py`: strict checks the response as given;
loose also accepts the response with its first line, last line or both removed, each with and without asterisks.
An empty (whitespace-only) response follows no instruction.

Example:
    >>> from nebula_hub.verify.ifeval import check_constraints
    >>> r = check_constraints("**hello world**", {"instruction_id_list": ["change_case:english_lowercase",
    ...     "length_constraints:number_words"], "kwargs": [{}, {"num_words": 5, "relation": "less than"}]})
    >>> r.verdict, r.score, r.extra["follow_instruction_list_strict"]
    ('pass', 1.0, [True, True])
"""

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from nebula_hub.verify.ifeval.instructions import (
    CONFLICTS,
    IFEVAL_INSTRUCTION_IDS,
    INSTRUCTIONS,
    Instruction,
    InvalidConstraintError,
    get_instruction,
)
from nebula_hub.verify.result import VerificationResult


VERIFIER_NAME = "ifeval"


def parse_constraints(constraints: Any) -> list[Instruction]:
    """Validate constraints and build one checker per instruction, in order.

    Raises:
        `InvalidConstraintError`: the layout is wrong, an id is unknown or a kwarg is bad; the message names the
        instruction (by position and id) and the kwarg.

    Example:
        >>> [i.id for i in parse_constraints([{"id": "punctuation:no_comma", "kwargs": {}}])]
        ['punctuation:no_comma']
    """
    if isinstance(constraints, str):
        try:
            constraints = json.loads(constraints)
        except json.JSONDecodeError as exc:
            raise InvalidConstraintError(
                f"constraints are a string but not JSON ({exc.msg} at character {exc.pos}): {constraints[:80]!r}",
                hint='give {"instruction_id_list": [...], "kwargs": [...]} or a list of {"id": ..., "kwargs": ...}',
            ) from None
    pairs = _pairs(constraints)
    instructions = []
    for position, (instruction_id, kwargs) in enumerate(pairs):
        try:
            instructions.append(get_instruction(instruction_id, kwargs))
        except InvalidConstraintError as exc:
            raise InvalidConstraintError(f"constraint #{position}: {exc.message}", hint=exc.hint) from None
    return instructions


def _pairs(constraints: Any) -> list[tuple[Any, Any]]:
    layout_hint = 'give {"instruction_id_list": [...], "kwargs": [...]} or a list of {"id": ..., "kwargs": ...}'
    if isinstance(constraints, dict):
        if "instruction_id_list" not in constraints:
            raise InvalidConstraintError(
                f"constraints have no 'instruction_id_list' (keys: {sorted(constraints)})", hint=layout_hint
            )
        ids = constraints["instruction_id_list"]
        kwargs = constraints.get("kwargs")
        if not isinstance(ids, (list, tuple)):
            raise InvalidConstraintError(f"'instruction_id_list' must be a list, got {ids!r}", hint=layout_hint)
        if kwargs is None:
            kwargs = [{}] * len(ids)
        if not isinstance(kwargs, (list, tuple)) or len(kwargs) != len(ids):
            raise InvalidConstraintError(
                f"'kwargs' must be a list with one dict per instruction ({len(ids)}), got {kwargs!r}",
                hint=layout_hint,
            )
        # The record schema stores each kwargs dict as a JSON string (RL_FEATURES): decode those in place.
        kwargs = [_json_kwargs(k, position) for position, k in enumerate(kwargs)]
        return list(zip(ids, kwargs, strict=True))
    if isinstance(constraints, (list, tuple)):
        pairs = []
        for position, item in enumerate(constraints):
            if not isinstance(item, dict) or "id" not in item:
                raise InvalidConstraintError(
                    f"constraint #{position} must be a dict with an 'id' (and 'kwargs'), got {item!r}",
                    hint=layout_hint,
                )
            pairs.append((item["id"], _json_kwargs(item.get("kwargs"), position)))
        return pairs
    raise InvalidConstraintError(f"constraints must be a dict or a list, got {constraints!r}", hint=layout_hint)


def _json_kwargs(kwargs: Any, position: int) -> Any:
    if not isinstance(kwargs, str):
        return kwargs
    try:
        return json.loads(kwargs)
    except json.JSONDecodeError as exc:
        raise InvalidConstraintError(
            f"constraint #{position}: kwargs are a string but not JSON ({exc.msg}): {kwargs[:80]!r}",
            hint="give kwargs as a dict, or as the JSON text of a dict",
        ) from None


def describe_constraints(constraints: Any) -> list[str]:
    """The instruction text of each constraint (what IFEval appends to a prompt), validating them on the way.

    Example:
        >>> describe_constraints({"instruction_id_list": ["startend:quotation"], "kwargs": [{}]})
        ['Wrap your entire response with double quotation marks.']
    """
    return [instruction.description() for instruction in parse_constraints(constraints)]


def loose_variants(response: str) -> list[str]:
    """The eight versions of a response the reference's loose mode tries, in its order.

    Example:
        >>> loose_variants("Sure!\\n*Hi*\\nBye")[:3]
        ['Sure!\\n*Hi*\\nBye', 'Sure!\\nHi\\nBye', '*Hi*\\nBye']
    """
    lines = response.split("\n")
    remove_first = "\n".join(lines[1:]).strip()
    remove_last = "\n".join(lines[:-1]).strip()
    remove_both = "\n".join(lines[1:-1]).strip()
    return [
        response,
        response.replace("*", ""),
        remove_first,
        remove_last,
        remove_both,
        remove_first.replace("*", ""),
        remove_last.replace("*", ""),
        remove_both.replace("*", ""),
    ]


def _follows(instruction: Instruction, response: str) -> bool:
    try:
        return bool(response.strip()) and instruction.check(response)
    except ValueError:
        # Only the (non-IFEval) rephrase checker raises, for a response without a *marked* change: not followed.
        return False


def _follows_loose(instruction: Instruction, variants: list[str]) -> bool:
    return any(_follows(instruction, variant) for variant in variants)


def check_instruction(
    instruction_id: str, kwargs: dict[str, Any] | None, prompt: str | None, response: str, loose: bool = False
) -> bool:
    """Whether `response` follows one instruction, in strict or loose mode.

    `prompt` is accepted for IFEval's call shape; the checkers read all they need from `kwargs` (the reference's
    `repeat_prompt` uses its `prompt_to_repeat` kwarg, not the prompt).

    Raises:
        `InvalidConstraintError`: unknown id or bad kwargs.

    Example:
        >>> check_instruction("startend:quotation", {}, "Say hi in quotes.", 'Here:\\n"hi"')
        False
        >>> check_instruction("startend:quotation", {}, "Say hi in quotes.", 'Here:\\n"hi"', loose=True)
        True
    """
    instruction = get_instruction(instruction_id, kwargs)
    if loose:
        return _follows_loose(instruction, loose_variants(response))
    return _follows(instruction, response)


def check_constraints(
    response: str, constraints: Any, prompt: str | None = None, loose: bool = False
) -> VerificationResult:
    """Check every constraint; the verdict and score follow the chosen mode, `extra` holds both modes' verdicts.

    Returns a `VerificationResult` with verdict `pass` (all followed) or `fail`, score = share of instructions
    followed, and `extra` = `instruction_id_list`, `follow_instruction_list_strict`/`_loose`,
    `follow_all_instructions_strict`/`_loose` (IFEval's output fields) and `mode`. Constraints that cannot be parsed,
    or a response that is not a string, give verdict `unparsable` (never a pass) with the reason in `detail`.

    Example:
        >>> r = check_constraints("hello, world", [{"id": "punctuation:no_comma", "kwargs": {}}])
        >>> r.verdict, r.score, r.detail
        ('fail', 0.0, 'strict: 0/1 instructions followed; not followed: punctuation:no_comma')
    """
    try:
        instructions = parse_constraints(constraints)
    except InvalidConstraintError as exc:
        detail = exc.message + (f" ({exc.hint})" if exc.hint else "")
        return VerificationResult(VERIFIER_NAME, "unparsable", 0.0, detail, {"error": exc.message})
    if not isinstance(response, str):
        return VerificationResult(
            VERIFIER_NAME, "unparsable", 0.0, f"response must be a string, got {type(response).__name__}"
        )
    if not instructions:
        return VerificationResult(VERIFIER_NAME, "unparsable", 0.0, "no constraints to check")
    strict = [_follows(instruction, response) for instruction in instructions]
    variants = None
    loose_list = []
    for instruction, followed in zip(instructions, strict, strict=True):
        if not followed and variants is None:
            variants = loose_variants(response)
        # The response itself is the first loose variant, so a strict pass is a loose pass.
        loose_list.append(followed or _follows_loose(instruction, variants))
    chosen = loose_list if loose else strict
    mode = "loose" if loose else "strict"
    missed = [i.id for i, ok in zip(instructions, chosen, strict=True) if not ok]
    detail = f"{mode}: {sum(chosen)}/{len(chosen)} instructions followed"
    if missed:
        detail += "; not followed: " + ", ".join(missed)
    extra = {
        "mode": mode,
        "instruction_id_list": [i.id for i in instructions],
        "follow_instruction_list_strict": strict,
        "follow_instruction_list_loose": loose_list,
        "follow_all_instructions_strict": all(strict),
        "follow_all_instructions_loose": all(loose_list),
    }
    verdict = "pass" if all(chosen) else "fail"
    return VerificationResult(VERIFIER_NAME, verdict, sum(chosen) / len(chosen), detail, extra)


def check_record(record: dict[str, Any]) -> dict[str, Any]:
    """IFEval's output fields for one input line `{prompt, response, instruction_id_list, kwargs}`.

    Raises:
        `InvalidConstraintError`: a field is missing or a constraint is invalid.

    Example:
        >>> check_record({"prompt": "p", "response": "no commas", "instruction_id_list": ["punctuation:no_comma"],
        ...               "kwargs": [{}]})["follow_all_instructions_strict"]
        True
    """
    for name in ("response", "instruction_id_list"):
        if name not in record:
            raise InvalidConstraintError(
                f"record has no {name!r} field (fields: {sorted(record)})",
                hint="each line needs prompt, response, instruction_id_list and kwargs, as in IFEval's files",
            )
    if not isinstance(record["response"], str):
        raise InvalidConstraintError(
            f"record field 'response' must be a string, got {record['response']!r}", hint="give the response text"
        )
    constraints = {"instruction_id_list": record["instruction_id_list"], "kwargs": record.get("kwargs")}
    if not parse_constraints(constraints):  # raises the error naming the instruction and kwarg
        raise InvalidConstraintError(
            "record has an empty 'instruction_id_list'", hint="list at least one IFEval instruction id"
        )  # raise the error naming the instruction and kwarg, rather than a verdict
    result = check_constraints(record["response"], constraints, prompt=record.get("prompt"))
    return {k: v for k, v in result.extra.items() if k.startswith("follow_")}


def summarize(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """IFEval's accuracies over `check_record` outputs (each row needs `instruction_id_list` too).

    Returns `prompt_level_strict`, `inst_level_strict`, `prompt_level_loose`, `inst_level_loose`, `n_prompts`,
    `n_instructions` and `per_instruction` (`{id: {n, strict_acc, loose_acc}}`).

    Example:
        >>> summarize([{"instruction_id_list": ["a:b", "c:d"], "follow_instruction_list_strict": [True, False],
        ...             "follow_instruction_list_loose": [True, True]}])["inst_level_strict"]
        0.5
    """
    n_prompts = n_inst = 0
    prompt_ok = {"strict": 0, "loose": 0}
    inst_ok = {"strict": 0, "loose": 0}
    per: dict[str, dict[str, int]] = {}
    for row in rows:
        n_prompts += 1
        ids = row["instruction_id_list"]
        n_inst += len(ids)
        for mode in ("strict", "loose"):
            verdicts = row[f"follow_instruction_list_{mode}"]
            prompt_ok[mode] += all(verdicts)
            inst_ok[mode] += sum(verdicts)
            for instruction_id, ok in zip(ids, verdicts, strict=True):
                counts = per.setdefault(instruction_id, {"n": 0, "strict": 0, "loose": 0})
                counts[mode] += ok
        for instruction_id in ids:
            per[instruction_id]["n"] += 1
    return {
        "prompt_level_strict": prompt_ok["strict"] / n_prompts if n_prompts else 0.0,
        "inst_level_strict": inst_ok["strict"] / n_inst if n_inst else 0.0,
        "prompt_level_loose": prompt_ok["loose"] / n_prompts if n_prompts else 0.0,
        "inst_level_loose": inst_ok["loose"] / n_inst if n_inst else 0.0,
        "n_prompts": n_prompts,
        "n_instructions": n_inst,
        "per_instruction": {
            k: {"n": v["n"], "strict_acc": v["strict"] / v["n"], "loose_acc": v["loose"] / v["n"]}
            for k, v in sorted(per.items())
        },
    }


@dataclass
class SampledConstraints:
    """Constraints drawn for one seed prompt: IFEval's fields plus the instruction texts and the final prompt."""

    instruction_id_list: list[str]
    kwargs: list[dict[str, Any]]
    instructions: list[str]
    prompt: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_constraints(self) -> dict[str, Any]:
        """The `{"instruction_id_list", "kwargs"}` dict `check_constraints` takes."""
        return {"instruction_id_list": list(self.instruction_id_list), "kwargs": [dict(k) for k in self.kwargs]}


def sample_constraints(
    rng: random.Random | int | None,
    n: int = 1,
    prompt: str | None = None,
    instruction_ids: Iterable[str] | None = None,
) -> SampledConstraints:
    """Draw `n` mutually compatible IFEval instructions with random valid kwargs, and their texts.

    Draws follow IFEval's conflict table (e.g. no `json_format` with word counts) and the reference's kwarg ranges,
    except that a "less than" threshold is at least 2 so every constraint can be followed. With `prompt`, the
    returned `prompt` is the seed prompt with the instruction texts appended (a `combination:repeat_prompt`
    instruction repeats that text and comes last, on its own line, as in IFEval's data); without it,
    `repeat_prompt` is never drawn.

    Args:
        rng (`random.Random` or `int`): source of randomness, or a seed.
        n (`int`, *optional*, defaults to 1): how many instructions.
        prompt (`str`, *optional*): the seed prompt to extend.
        instruction_ids (iterable of `str`, *optional*): restrict the draw to these ids; defaults to all 25.

    Example:
        >>> s = sample_constraints(0, n=2, prompt="Write a story about a lighthouse.")
        >>> len(s.instruction_id_list), s.prompt.startswith("Write a story about a lighthouse. ")
        (2, True)
        >>> check_constraints("x", s.as_constraints()).verdict in ("pass", "fail")
        True
    """
    if not isinstance(rng, random.Random):
        rng = random.Random(rng)
    pool = list(IFEVAL_INSTRUCTION_IDS if instruction_ids is None else instruction_ids)
    for instruction_id in pool:
        if instruction_id not in INSTRUCTIONS:
            get_instruction(instruction_id)  # raises the unknown-id error with suggestions
        if instruction_id not in IFEVAL_INSTRUCTION_IDS:
            raise InvalidConstraintError(
                f"instruction {instruction_id!r} is not one of IFEval's 25 and cannot be sampled",
                hint=f"choose among: {', '.join(IFEVAL_INSTRUCTION_IDS)}",
            )
    if not prompt:
        pool = [i for i in pool if i != "combination:repeat_prompt"]
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= len(pool):
        raise InvalidConstraintError(
            f"cannot sample n={n!r} instructions from {len(pool)} candidates", hint=f"use 1 <= n <= {len(pool)}"
        )
    chosen = _draw_compatible(rng, pool, n)
    # repeat_prompt repeats the prompt with the other instructions, so it is built (and placed) last.
    chosen.sort(key=lambda i: i == "combination:repeat_prompt")
    ids, kwargs, texts = [], [], []
    body = prompt
    for instruction_id in chosen:
        cls = INSTRUCTIONS[instruction_id]
        if instruction_id == "combination:repeat_prompt":
            kw = cls.sample_kwargs(rng, prompt=body)
        else:
            kw = cls.sample_kwargs(rng)
        instruction = cls(**kw)
        ids.append(instruction_id)
        kwargs.append(instruction.args())
        texts.append(instruction.description())
        if prompt:
            sep = "\n" if instruction_id == "combination:repeat_prompt" else " "
            body = body.rstrip() + sep + texts[-1]
    return SampledConstraints(ids, kwargs, texts, prompt=body if prompt else None)


def _draw_compatible(rng: random.Random, pool: list[str], n: int, tries: int = 100) -> list[str]:
    # Greedy draw in random order, skipping conflicts; a draw that dead-ends (e.g. constrained_response first) retries.
    for _ in range(tries):
        order = rng.sample(pool, len(pool))
        chosen: list[str] = []
        for candidate in order:
            if all(candidate not in CONFLICTS[c] for c in chosen):
                chosen.append(candidate)
                if len(chosen) == n:
                    return chosen
    raise InvalidConstraintError(
        f"no set of {n} mutually compatible instructions found among {pool}",
        hint="ask for fewer instructions or widen instruction_ids",
    )
