"""Verifiers: math answers, code in a sandbox, instruction-following constraints. One result type for all."""

from nebula_hub.verify.code import extract_code, parse_tests, verify_code, verify_code_batch
from nebula_hub.verify.ifeval import check_constraints, check_instruction, sample_constraints
from nebula_hub.verify.math import normalize_gold, strip_thinking, verify_math, verify_math_batch
from nebula_hub.verify.registry import get_verifier
from nebula_hub.verify.result import VERDICTS, VerificationResult
from nebula_hub.verify.sandbox import SandboxLimits, SandboxPool


__all__ = [
    "VERDICTS",
    "VerificationResult",
    "check_constraints",
    "check_instruction",
    "sample_constraints",
    "SandboxLimits",
    "SandboxPool",
    "extract_code",
    "get_verifier",
    "normalize_gold",
    "parse_tests",
    "strip_thinking",
    "verify_code",
    "verify_code_batch",
    "verify_math",
    "verify_math_batch",
]
