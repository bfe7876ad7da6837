"""Scrubbing credential-looking text out of what is about to be posted.

Terraform's own sensitive marks are applied while the plan is read (`deploy._plan`, which
also hides a marked string wherever else it turns up as a value); this is the second line,
run over the whole rendered Markdown and over failed-plan logs: values that look like
credentials (the patterns below plus `--redact-pattern`).

A pattern with a named group `secret` replaces only that group (`password = <secret>`);
otherwise the whole match is replaced.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable, Sequence

from deploy._cli import ConfigError

__all__ = ["DEFAULT_PATTERNS", "REDACTED", "Redactor", "compile_patterns", "redact_argument"]

REDACTED = "(redacted)"

# Sensible defaults; `--redact-pattern` adds to them, it never replaces them.
DEFAULT_PATTERNS: tuple[str, ...] = (
    # AWS access key ids (long-term AKIA, temporary ASIA, and the rarer prefixes).
    r"\b(?:AKIA|ASIA|ABIA|ACCA|AROA|AIDA)[0-9A-Z]{16}\b",
    # AWS secret access keys and session tokens next to their name.
    r"(?i)aws_?(?:secret_?access_?key|session_?token)[\\\"'\s]*[:=]+[\\\"'\s]*"
    r"(?P<secret>[A-Za-z0-9/+=]{16,})",
    # PEM private keys, also when the END line was cut off.
    r"-----BEGIN[A-Z ]*PRIVATE KEY-----(?:(?!-----END)[\s\S])*(?:-----END[A-Z ]*PRIVATE KEY-----)?",
    # GitHub, Slack, OpenAI-style and Stripe-style tokens; JSON Web Tokens.
    r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})\b",
    r"\bxox[abposr]-[A-Za-z0-9-]{10,}",
    r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}",
    r"\bsk-[A-Za-z0-9_-]{20,}",
    r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
    # Bearer/Basic credentials in headers.
    r"(?i)\b(?:bearer|basic)\s+(?P<secret>[A-Za-z0-9._~+/-]{12,}=*)",
    # user:password@ in URLs (postgres://app:hunter2@db:5432).
    r"[a-z][a-z0-9+.-]*://[^/\s:@\"']+:(?P<secret>[^/\s@\"']+)@",
    # ECS-style {"name": "DB_PASSWORD", "value": "..."} pairs, also inside a JSON string.
    r"(?i)\\?\"name\\?\"\s*:\s*\\?\"[^\"\\]*(?:password|passwd|secret|token|api_?key|"
    r"private_?key)[^\"\\]*\\?\"\s*,\s*\\?\"value\\?\"\s*:\s*\\?\"(?P<secret>[^\"\\]+)",
    # password = "..." / "api_key": "..." / token=... (the name may carry a prefix).
    r"(?i)(?:password|passwd|pwd|passphrase|secret|secret_key|token|api_?key|access_?key|"
    r"private_?key|client_?secret|auth)[\\\"'\s]*[:=][\\\"'\s]*"
    r"(?!\(sensitive value\)|\(known after apply\)|\(redacted\)|null\b|true\b|false\b)"
    r"(?P<secret>[^\s\\\"',;}\]]{3,})",
)


def compile_patterns(extra: Iterable[str] = ()) -> list[re.Pattern[str]]:
    compiled = []
    for source in (*DEFAULT_PATTERNS, *extra):
        try:
            compiled.append(re.compile(source))
        except re.error as exc:
            raise ConfigError(f"--redact-pattern {source!r} is not a valid regex: {exc}") from exc
    return compiled


class Redactor:
    """Replaces credential-looking text with `(redacted)`."""

    def __init__(self, patterns: Sequence[re.Pattern[str]]) -> None:
        self._patterns = list(patterns)

    def __call__(self, text: str) -> str:
        for pattern in self._patterns:
            text = pattern.sub(_replacement, text)
        return text


def _replacement(match: re.Match[str]) -> str:
    if "secret" in match.re.groupindex and match.group("secret") is not None:
        start, end = match.span("secret")
        whole_start = match.start()
        text = match.group(0)
        return text[: start - whole_start] + REDACTED + text[end - whole_start :]
    return REDACTED


def redact_argument(parser: argparse.ArgumentParser) -> None:
    """--redact-pattern, as every tool that posts a plan takes it (read by compile_patterns)."""
    parser.add_argument(
        "--redact-pattern",
        action="append",
        default=[],
        metavar="REGEX",
        help="extra pattern to hide (added to the defaults; a group named `secret` limits "
        "the replacement to that group)",
    )
