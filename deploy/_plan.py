"""Reading `terraform show -json` plans: changes, counts, stateful warnings, redacted values.

Values are passed on with two sentinels in place of what must not be shown:
`SENSITIVE` where Terraform marks a value sensitive (in `before_sensitive` or
`after_sensitive`, at any depth; a value sensitive on either side is hidden on both) and
`UNKNOWN` where it is only known after apply. Format reference:
https://developer.hashicorp.com/terraform/internals/json-format
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from deploy._cli import ConfigError

__all__ = [
    "SENSITIVE",
    "SENSITIVE_CHANGED",
    "STATEFUL_TYPES",
    "UNKNOWN",
    "Change",
    "Marker",
    "Plan",
    "hide_sensitive_text",
    "load_plan",
    "load_plan_text",
]

# Resources whose replacement or deletion loses data or breaks what points at them (a
# bucket's objects, a repository's images, a secret's value, a key's ciphertexts, a load
# balancer's DNS name). The one list the plan comment and the drift issue warn from.
STATEFUL_TYPES: frozenset[str] = frozenset(
    {
        "aws_s3_bucket",
        "aws_ecr_repository",
        "aws_secretsmanager_secret",
        "aws_secretsmanager_secret_version",
        "aws_kms_key",
        "aws_kms_alias",
        "aws_cloudwatch_log_group",
        "aws_lb",
        "aws_alb",
        "aws_db_instance",
        "aws_rds_cluster",
        "aws_dynamodb_table",
        "aws_efs_file_system",
        "aws_elasticache_cluster",
        "aws_elasticache_replication_group",
        "aws_opensearch_domain",
        "aws_elasticsearch_domain",
        "aws_ebs_volume",
        "aws_sqs_queue",
        "aws_api_gateway_rest_api",
        "aws_api_gateway_api_key",
        "aws_ssm_parameter",
        "aws_route53_zone",
        "aws_cognito_user_pool",
    }
)


class Marker:
    """A stand-in for a value the reader must not (or cannot yet) see."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


# A sensitive string this long is also hidden where it is part of another string.
MIN_EMBEDDED_LITERAL = 6

SENSITIVE: Any = Marker("(sensitive value)")
# A hidden value that differs from the hidden value before it (Terraform shows the change).
SENSITIVE_CHANGED: Any = Marker("(sensitive value)")
UNKNOWN: Any = Marker("(known after apply)")


@dataclass(frozen=True)
class Change:
    """One entry of `resource_changes` (or `resource_drift`), values already redacted."""

    address: str
    type: str
    mode: str
    actions: tuple[str, ...]
    before: Any
    after: Any
    name: str = ""
    previous_address: str | None = None
    action_reason: str | None = None
    importing: bool = False
    # Top-level attributes whose change forces the replacement (`replace_paths`).
    forces_replacement: frozenset[str] = frozenset()

    @property
    def kind(self) -> str:
        """`create`, `update`, `replace`, `delete`, `forget`, `read` or `no-op`.

        `forget` is a `removed {}` block with `destroy = false`: the object stays in AWS and
        leaves the state (Terraform 1.7+), so it is a change, never a no-op."""
        actions = set(self.actions)
        if {"create", "delete"} <= actions:
            return "replace"
        for kind in ("create", "delete", "forget", "update", "read"):
            if kind in actions:
                return kind
        return "no-op"

    @property
    def moved(self) -> bool:
        return bool(self.previous_address) and self.previous_address != self.address

    @property
    def stateful(self) -> bool:
        return self.mode == "managed" and self.type in STATEFUL_TYPES

    @property
    def destructive(self) -> bool:
        return self.kind in ("replace", "delete")


@dataclass(frozen=True)
class Plan:
    terraform_version: str
    changes: list[Change]
    drift: list[Change]
    outputs: dict[str, Change]
    sensitive: list[Any] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """add / change / replace / destroy always; forget, no-op, read, moved, import when present.

        A replacement is counted once, as `replace` (Terraform's own summary line counts it
        both as an add and as a destroy).
        """
        kinds = Counter(c.kind for c in self.changes)
        counts = {
            "add": kinds["create"],
            "change": kinds["update"],
            "replace": kinds["replace"],
            "destroy": kinds["delete"],
        }
        extra = {
            "forget": kinds["forget"],
            "no-op": kinds["no-op"],
            "read": kinds["read"],
            "moved": sum(c.moved for c in self.changes),
            "import": sum(c.importing for c in self.changes),
        }
        counts.update({name: n for name, n in extra.items() if n})
        return counts

    @property
    def has_changes(self) -> bool:
        """What `terraform plan -detailed-exitcode` calls changes: resources or outputs."""
        return any(
            c.kind not in ("no-op", "read") or c.moved or c.importing for c in self.changes
        ) or any(o.kind != "no-op" for o in self.outputs.values())

    @property
    def warnings(self) -> list[Change]:
        """Replacements and deletions of stateful resources, in plan order."""
        return [c for c in self.changes if c.stateful and c.destructive]

    @property
    def forgotten(self) -> list[Change]:
        """Objects a `removed {}` block takes out of the state but leaves running in AWS:
        whatever they cost and hold is nobody's from then on, of any type."""
        return [c for c in self.changes if c.kind == "forget"]


def load_plan(path: Path) -> Plan:
    """Read a `terraform show -json` file; a file that is not one is a ConfigError."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read the plan JSON {path}: {exc}") from exc
    return parse_plan(raw, source=str(path))


def load_plan_text(path: Path | None) -> str | None:
    """`terraform show -no-color <planfile>` as written to `path` (None: not given)."""
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ConfigError(f"cannot read the plan text {path}: {exc}") from exc


def parse_plan(raw: Any, source: str = "plan") -> Plan:
    if not isinstance(raw, dict) or "format_version" not in raw:
        raise ConfigError(
            f"{source} is not a Terraform JSON plan (no format_version); "
            "write it with `terraform show -json <planfile>`."
        )
    if raw.get("errored"):
        raise ConfigError(f"{source} is the plan of a failed `terraform plan`; use --failed.")
    secrets: list[Any] = []
    changes = [_change(rc, secrets) for rc in _entries(raw, "resource_changes", source)]
    drift = [_change(rc, secrets) for rc in _entries(raw, "resource_drift", source)]
    outputs_raw = raw.get("output_changes") or {}
    if not isinstance(outputs_raw, dict):
        raise ConfigError(f"{source}: output_changes is not an object.")
    sensitive_outputs = _sensitive_outputs(raw)
    outputs = {}
    for name, entry in sorted(outputs_raw.items()):
        if not isinstance(entry, dict):
            continue
        if name in sensitive_outputs:
            # Old plan formats (0.x) leave output_changes unmarked; the flag is elsewhere.
            entry = {**entry, "before_sensitive": True, "after_sensitive": True}
        outputs[name] = _redacted_change(name, "output", "output", entry, secrets)
    # Longest first, so a secret's prefix cannot leave the rest of it behind.
    literals = tuple(
        sorted({v for v in secrets if isinstance(v, str) and v}, key=len, reverse=True)
    )
    if literals:
        # A string marked sensitive in one place is hidden wherever else it is a value.
        changes = [_hide_literals(c, literals) for c in changes]
        drift = [_hide_literals(c, literals) for c in drift]
        outputs = {k: _hide_literals(c, literals) for k, c in outputs.items()}
    return Plan(
        terraform_version=str(raw.get("terraform_version", "?")),
        changes=changes,
        drift=drift,
        outputs=outputs,
        sensitive=secrets,
    )


def _sensitive_outputs(raw: dict[str, Any]) -> set[str]:
    places = [
        (raw.get("planned_values") or {}).get("outputs"),
        ((raw.get("prior_state") or {}).get("values") or {}).get("outputs"),
        ((raw.get("configuration") or {}).get("root_module") or {}).get("outputs"),
    ]
    return {
        name
        for place in places
        if isinstance(place, dict)
        for name, entry in place.items()
        if isinstance(entry, dict) and entry.get("sensitive") is True
    }


def hide_sensitive_text(text: str, plan: Plan) -> str:
    """`text` (Terraform's own plan text) with every string the plan JSON marks sensitive
    hidden wherever it appears: Terraform prints `(sensitive value)` where it knows, but not
    an unmarked copy (an output's `before`, a value passed through another resource). A short
    one only where it stands as a whole quoted string: as a bare word it would hit words."""
    literals = sorted(
        {v for v in plan.sensitive if isinstance(v, str) and v}, key=len, reverse=True
    )
    for literal in literals:
        text = text.replace(json.dumps(literal), SENSITIVE.text)  # a whole quoted value
        if len(literal) >= MIN_EMBEDDED_LITERAL:
            text = text.replace(literal, SENSITIVE.text)
    return text


def _hide_literals(change: Change, literals: tuple[str, ...]) -> Change:
    exact = frozenset(literals)
    # Inside a longer string (a URL, a JSON document) only long ones: short ones hit words.
    embedded = tuple(s for s in literals if len(s) >= MIN_EMBEDDED_LITERAL)
    return replace(
        change,
        before=_without(change.before, exact, embedded),
        after=_without(change.after, exact, embedded),
    )


def _without(value: Any, exact: frozenset[str], embedded: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        if value in exact:
            return SENSITIVE
        for literal in embedded:
            if literal in value:
                value = value.replace(literal, SENSITIVE.text)
        return value
    if isinstance(value, dict):
        return {k: _without(v, exact, embedded) for k, v in value.items()}
    if isinstance(value, list):
        return [_without(v, exact, embedded) for v in value]
    return value


def _entries(raw: dict[str, Any], key: str, source: str) -> list[dict[str, Any]]:
    entries = raw.get(key) or []
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and isinstance(e.get("address"), str) for e in entries
    ):
        raise ConfigError(f"{source}: {key} is not a list of resource changes with addresses.")
    return entries


def _change(rc: dict[str, Any], secrets: list[Any]) -> Change:
    change = rc.get("change") or {}
    base = _redacted_change(rc["address"], str(rc.get("type", "")), "", change, secrets)
    return Change(
        address=base.address,
        type=base.type,
        mode=str(rc.get("mode", "managed")),
        actions=base.actions,
        before=base.before,
        after=base.after,
        name=str(rc.get("name", "")),
        previous_address=rc.get("previous_address"),
        action_reason=rc.get("action_reason"),
        importing="importing" in change,
        forces_replacement=frozenset(
            str(path[0])
            for path in change.get("replace_paths") or []
            if isinstance(path, list) and path
        ),
    )


def _redacted_change(
    address: str, type_: str, mode: str, change: dict[str, Any], secrets: list[Any]
) -> Change:
    before_mask = change.get("before_sensitive", False)
    after_mask = change.get("after_sensitive", False)
    raw_before, raw_after = before, after = change.get("before"), change.get("after")
    for mask in (before_mask, after_mask):
        _collect(before, mask, secrets)
        _collect(after, mask, secrets)
        before = _redact(before, mask)
        after = _redact(after, mask)
    after = _changed(raw_before, raw_after, before, after)
    after = _unknown(after, change.get("after_unknown", False))
    return Change(
        address=address,
        type=type_,
        mode=mode,
        actions=tuple(str(a) for a in change.get("actions", ["no-op"])),
        before=before,
        after=after,
    )


def _redact(value: Any, mask: Any) -> Any:
    if mask is True:
        return None if value is None else SENSITIVE
    if isinstance(value, dict) and isinstance(mask, dict):
        return {k: _redact(v, mask.get(k, False)) for k, v in value.items()}
    if isinstance(value, list) and isinstance(mask, list):
        return [_redact(v, mask[i] if i < len(mask) else False) for i, v in enumerate(value)]
    return value


def _changed(raw_before: Any, raw_after: Any, before: Any, after: Any) -> Any:
    """Tell a changed hidden value from an unchanged one, without showing either."""
    if after is SENSITIVE:
        return SENSITIVE_CHANGED if before is SENSITIVE and raw_before != raw_after else after
    if all(isinstance(v, dict) for v in (raw_before, raw_after, before, after)):
        return {
            k: _changed(raw_before.get(k), raw_after.get(k), before.get(k), v)
            for k, v in after.items()
        }
    if (
        all(isinstance(v, list) for v in (raw_before, raw_after, before, after))
        and len({len(raw_before), len(raw_after), len(before), len(after)}) == 1
    ):
        return [
            _changed(*items) for items in zip(raw_before, raw_after, before, after, strict=True)
        ]
    return after


def _collect(value: Any, mask: Any, out: list[Any]) -> None:
    """Every leaf value under a sensitive mark, so the renderer can scrub stray copies."""
    if mask is True:
        out.extend(_leaves(value))
    elif isinstance(value, dict) and isinstance(mask, dict):
        for k, v in value.items():
            _collect(v, mask.get(k, False), out)
    elif isinstance(value, list) and isinstance(mask, list):
        for i, v in enumerate(value):
            _collect(v, mask[i] if i < len(mask) else False, out)


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [] if value is None else [value]


def _unknown(value: Any, mask: Any) -> Any:
    if isinstance(value, Marker):
        return value
    if mask is True:
        return UNKNOWN
    if isinstance(mask, dict):
        base = value if isinstance(value, dict) else {}
        merged = {k: _unknown(v, mask.get(k, False)) for k, v in base.items()}
        for k, m in mask.items():
            if k not in base and m is True:
                merged[k] = UNKNOWN
        return merged if base or merged else value
    if isinstance(value, list) and isinstance(mask, list):
        return [_unknown(v, mask[i] if i < len(mask) else False) for i, v in enumerate(value)]
    return value
