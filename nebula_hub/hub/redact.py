"""Remove secrets (Hub tokens, bearer headers, signed-URL signatures) from text before it is shown or logged."""

from __future__ import annotations

import re


_KNOWN: set[str] = set()
_PATTERNS = [
    (re.compile(r"\bhf_[A-Za-z0-9]{20,}"), "hf_***"),
    (re.compile(r"(?i)(bearer\s+)[^\s'\"]+"), r"\1***"),
    (re.compile(r"(?i)\b(sig|token|access_token|api_key)=([^&\s'\"]+)"), r"\1=***"),
    (re.compile(r"(?i)(HF_TOKEN\s*[=:]\s*['\"]?)[^\s'\"]+"), r"\1***"),
]


def register_secret(value: str | None) -> None:
    """Remember a secret (e.g. a token read from a file) so `redact` also removes it verbatim."""
    if value and len(value) >= 8:
        _KNOWN.add(value)


def redact(text: object) -> str:
    """`text` with every token-like secret replaced by `***`.

    Example:
        >>> redact("Authorization: Bearer hf_exampleexampleexample for http://h/x?sig=abc&size=3")
        'Authorization: Bearer *** for http://h/x?sig=***&size=3'
    """
    out = str(text)
    for secret in sorted(_KNOWN, key=len, reverse=True):
        out = out.replace(secret, "***")
    for pattern, repl in _PATTERNS:
        out = pattern.sub(repl, out)
    return out
