"""Instruction-following verifier: IFEval's 25 instruction checkers, strict and loose, and a constraint generator.

Faithful to Google's reference implementation (`instruction_following_eval`), so scores computed here match
published IFEval numbers; used by the curation filters, the GRPO rewards and the evaluation suite alike.

Example:
    >>> from nebula_hub.verify.ifeval import check_constraints, sample_constraints
    >>> s = sample_constraints(7, n=1, prompt="Describe a sunset.", instruction_ids=["punctuation:no_comma"])
    >>> s.prompt
    'Describe a sunset. In your entire response, refrain from the use of any commas.'
    >>> check_constraints("Red sky and calm sea.", s.as_constraints()).verdict
    'pass'
"""

from nebula_hub.verify.ifeval.constraints import (
    VERIFIER_NAME,
    SampledConstraints,
    check_constraints,
    check_instruction,
    check_record,
    describe_constraints,
    loose_variants,
    parse_constraints,
    sample_constraints,
    summarize,
)
from nebula_hub.verify.ifeval.instructions import (
    CONFLICTS,
    IFEVAL_INSTRUCTION_IDS,
    INSTRUCTIONS,
    Instruction,
    InvalidConstraintError,
    get_instruction,
)


__all__ = [
    "CONFLICTS",
    "IFEVAL_INSTRUCTION_IDS",
    "INSTRUCTIONS",
    "VERIFIER_NAME",
    "Instruction",
    "InvalidConstraintError",
    "SampledConstraints",
    "check_constraints",
    "check_instruction",
    "check_record",
    "describe_constraints",
    "get_instruction",
    "loose_variants",
    "parse_constraints",
    "sample_constraints",
    "summarize",
]
