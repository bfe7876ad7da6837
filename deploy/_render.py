"""Markdown for a plan: counts, warnings and the plan itself, within GitHub's size limit.

The counts, the warnings (and the plan guard) come from the JSON plan. The plan shown is
Terraform's own text (`terraform show -no-color <planfile>`) when the caller has it, with
the `+ - ~` markers moved to column 0 so a `diff` fence colours it (the habit of
dflook/terraform-github-actions); without it, a rendering of the JSON in the same shape.
Everything the reader sees goes through the same layers: strings the JSON marks sensitive
are hidden (in the JSON values while reading the plan, in the text by
`hide_sensitive_text`), then the `Redactor` scrubs what looks like a credential.
"""

from __future__ import annotations

import json
import re
from typing import Any

from deploy._plan import UNKNOWN, Change, Marker, Plan, hide_sensitive_text
from deploy._redact import Redactor

__all__ = [
    "MAX_BODY",
    "failed_markdown",
    "fork_markdown",
    "plan_markdown",
    "render_diff",
    "terraform_text_lines",
]

# GitHub refuses an issue or comment body over 65,536 characters. Bodies are measured in
# UTF-8 bytes, never fewer than characters, so a plan full of non-ASCII still fits.
MAX_BODY = 65_536
MAX_WARNINGS = 50
_COMPACT = 120  # a changed value longer than this is shown as a - block and a + block

_HEADERS = {
    "create": ("+", "will be created"),
    "delete": ("-", "will be destroyed"),
    "update": ("~", "will be updated in-place"),
    "replace": ("-/+", "must be replaced"),
    "read": ("<=", "will be read during apply"),
    "forget": (".", "will no longer be managed by Terraform, but will not be destroyed"),
    "no-op": (" ", "has no changes"),
}
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# A change line of Terraform's text: indentation, then its action symbol, then a space.
_ACTION_LINE = re.compile(r"^( *)(-/\+|\+/-|<=|[+~.-])(?= )")


def terraform_text_lines(text: str, plan: Plan) -> list[str]:
    """Terraform's plan text as diff lines: colour codes gone, sensitive strings hidden, each
    action symbol moved to column 0 (`    ~ cpu = ...` -> `~     cpu = ...`, same width)."""
    clean = hide_sensitive_text(_ANSI.sub("", text), plan).strip("\n")
    return [_ACTION_LINE.sub(r"\2\1", line) for line in clean.splitlines()]


def render_diff(plan: Plan) -> list[str]:
    lines: list[str] = []
    for change in plan.changes:
        lines.extend(_resource(change))
    if plan.outputs:
        outputs = [o for o in plan.outputs.values() if o.kind != "no-op"]
        if outputs:
            lines.append("# Changes to outputs:")
            for output in outputs:
                lines.extend(_attribute_change(output.address, output, 1))
            lines.append("")
    if plan.drift:
        lines.append("# Objects changed outside of Terraform since the last apply:")
        for change in plan.drift:
            lines.extend(_drifted(change))
    return lines


def _resource(change: Change) -> list[str]:
    kind = change.kind
    notes = []
    if change.moved:
        notes.append(f"has moved from {change.previous_address}")
    if change.importing:
        notes.append("will be imported")
    if kind != "no-op" or not notes:
        notes.append(_HEADERS[kind][1])
    if change.action_reason:
        notes.append(f"({change.action_reason.replace('_', ' ')})")
    if kind == "no-op" and not (change.moved or change.importing):
        return []
    marker = _HEADERS[kind][0]
    if kind == "replace" and change.actions[0] == "create":
        marker = "+/-"
    block = "data" if change.mode == "data" else "resource"
    lines = [f"# {change.address} {' '.join(notes)}"]
    if kind in ("no-op", "forget"):
        lines.append("")
        return lines
    lines.append(f'{marker} {block} "{change.type}" "{change.name}" {{')
    if kind in ("create", "read"):
        lines.extend(_object_lines("+", change.after, 1, skip_null=True))
    elif kind == "delete":
        lines.extend(_object_lines("-", change.before, 1, skip_null=True))
    else:
        lines.extend(_object_diff(change.before, change.after, 1, change.forces_replacement))
    lines.extend(["  }", ""])
    return lines


def _drifted(change: Change) -> list[str]:
    if change.after is None:
        return [f"# {change.address} has been deleted", ""]
    return [
        f"# {change.address} has changed",
        f'~ resource "{change.type}" "{change.name}" {{',
        *_object_diff(change.before, change.after, 1),
        "  }",
        "",
    ]


def _attribute_change(name: str, change: Change, depth: int) -> list[str]:
    before = {name: change.before} if change.kind != "create" else {}
    after = {name: change.after} if change.kind != "delete" else {}
    return _object_diff(before, after, depth)


def _object_lines(marker: str, value: Any, depth: int, *, skip_null: bool = False) -> list[str]:
    if not isinstance(value, dict):
        return [f"{marker}{'    ' * depth}{_compact(value)}"]
    lines = []
    for key in sorted(value):
        if skip_null and value[key] is None:
            continue
        lines.extend(_value_lines(marker, _key(key), value[key], depth))
    return lines


def _value_lines(marker: str, key: str, value: Any, depth: int) -> list[str]:
    pad = "    " * depth
    text = _compact(value)
    if len(text) <= _COMPACT or not isinstance(value, (dict, list)):
        return [f"{marker}{pad}{key} = {text}"]
    if isinstance(value, dict):
        inner = [
            line
            for k in sorted(value)
            for line in _value_lines(marker, _key(k), value[k], depth + 1)
        ]
        return [f"{marker}{pad}{key} = {{", *inner, f"{marker}{pad}}}"]
    items = [f"{marker}{pad}    {_compact(v)}," for v in value]
    return [f"{marker}{pad}{key} = [", *items, f"{marker}{pad}]"]


def _object_diff(
    before: Any, after: Any, depth: int, forcing: frozenset[str] = frozenset()
) -> list[str]:
    before = before if isinstance(before, dict) else {}
    after = after if isinstance(after, dict) else {}
    lines = []
    for key in sorted(set(before) | set(after)):
        diff = _key_diff(
            _key(key), key in before, before.get(key), after.get(key), key in after, depth
        )
        if diff and key in forcing:
            diff[0] += "  # forces replacement"
        lines.extend(diff)
    return lines


def _key_diff(key: str, had: bool, old: Any, new: Any, has: bool, depth: int) -> list[str]:
    pad = "    " * depth
    if had and has and old == new and new is not UNKNOWN:
        return []
    if not had or old is None:
        return [] if new is None else _value_lines("+", key, new, depth)
    if not has or (new is None and old is not None):
        return _value_lines("-", key, old, depth)
    if isinstance(old, dict) and isinstance(new, dict):
        return [f"~{pad}{key} = {{", *_object_diff(old, new, depth + 1), f" {pad}}}"]
    compact_old, compact_new = _compact(old), _compact(new)
    if len(compact_old) + len(compact_new) <= _COMPACT:
        return [f"~{pad}{key} = {compact_old} -> {compact_new}"]
    return [*_value_lines("-", key, old, depth), *_value_lines("+", key, new, depth)]


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", key) else json.dumps(key)


def _compact(value: Any) -> str:
    if isinstance(value, Marker):
        return repr(value)
    if isinstance(value, dict):
        inner = ", ".join(f"{_key(str(k))} = {_compact(v)}" for k, v in value.items())
        return "{" + inner + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_compact(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _fence(text: str, info: str = "") -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{info}\n{text}\n{ticks}"


def _counts_table(counts: dict[str, int]) -> str:
    names = list(counts)
    return "\n".join(
        [
            "| " + " | ".join(names) + " |",
            "|" + "---:|" * len(names),
            "| " + " | ".join(str(counts[n]) for n in names) + " |",
        ]
    )


def _safe_address(address: str) -> str:
    return address.replace("`", "'")


def _warning_lines(warnings: list[Change]) -> list[str]:
    if not warnings:
        return []
    lines = [
        "> [!WARNING]",
        f"> **{len(warnings)} stateful resource(s) will be replaced or destroyed** "
        "(data or the names other systems use can be lost):",
    ]
    for change in warnings[:MAX_WARNINGS]:
        verb = "replaced" if change.kind == "replace" else "destroyed"
        reason = f", {change.action_reason.replace('_', ' ')}" if change.action_reason else ""
        lines.append(f"> - `{_safe_address(change.address)}` will be **{verb}**{reason}")
    if len(warnings) > MAX_WARNINGS:
        lines.append(f"> - ... and {len(warnings) - MAX_WARNINGS} more (see the diff)")
    return [*lines, ""]


def _forget_lines(forgotten: list[Change]) -> list[str]:
    if not forgotten:
        return []
    lines = [
        "> [!WARNING]",
        f"> **{len(forgotten)} resource(s) will be removed from the state but left running** "
        "(a `removed` block with `destroy = false`): Terraform stops managing them, so what "
        "they cost and hold is nobody's unless another configuration imports them:",
    ]
    lines += [f"> - `{_safe_address(c.address)}`" for c in forgotten[:MAX_WARNINGS]]
    if len(forgotten) > MAX_WARNINGS:
        lines.append(f"> - ... and {len(forgotten) - MAX_WARNINGS} more (see the plan)")
    return [*lines, ""]


def _run_link(run_url: str | None) -> str:
    return f"[the workflow run]({run_url})" if run_url else "the workflow run"


def plan_markdown(
    plan: Plan,
    *,
    marker: str,
    title: str,
    redactor: Redactor,
    run_url: str | None = None,
    limit: int = MAX_BODY,
    text: str | None = None,
) -> str:
    """A comment or issue body for `plan`, at most `limit` characters, secrets scrubbed;
    `text` is `terraform show -no-color` of the same plan file, shown instead of a rendering
    of the JSON."""
    counts = plan.counts
    kinds = ("add", "change", "replace", "destroy", *(("forget",) if counts.get("forget") else ()))
    summary = ", ".join(f"{counts[k]} to {k}" for k in kinds)
    head = [marker, f"### {title}", ""]
    head.append(f"**{summary}**" if plan.has_changes else "**No changes.** Nothing to apply.")
    head += ["", _counts_table(counts), "", *_warning_lines(plan.warnings)]
    head += _forget_lines(plan.forgotten)
    foot = f"Terraform {plan.terraform_version} · {_run_link(run_url)}"
    lines = render_diff(plan) if text is None else terraform_text_lines(text, plan)
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        return redactor("\n".join([*head, foot]))
    # Scrub only what can be shown: a plan of thousands of resources is cut to one page
    # anyway. Each diff line holds whole values, so a line-by-line scrub sees them entire.
    shown: list[str] = []
    used = _size(_assemble(head, [], len(lines), foot, run_url, redactor))
    for line in lines:
        clean = redactor(line)
        used += _size(clean) + 1
        if used > limit:
            break
        shown.append(clean)
    while True:
        body = _assemble(head, shown, len(lines), foot, run_url, redactor)
        if _size(body) <= limit or not shown:
            return body
        shown.pop()


def _assemble(
    head: list[str],
    shown: list[str],
    total: int,
    foot: str,
    run_url: str | None,
    redactor: Redactor,
) -> str:
    text = "\n".join(shown)
    parts = list(head)
    label = f"Show the plan ({total} lines)"
    if len(shown) < total:
        hidden = total - len(shown)
        text += f"\n# ... {hidden} more lines cut: the comment would exceed GitHub's limit."
        label = f"Show the plan (first {len(shown)} of {total} lines)"
        parts.append(
            f"> [!NOTE]\n> The diff is truncated to fit GitHub's {MAX_BODY:,}-character "
            f"limit; the full plan is in the log of {_run_link(run_url)}.\n"
        )
    parts += [f"<details><summary>{label}</summary>", "", _fence(text, "diff"), "", "</details>"]
    parts += ["", foot]
    return redactor("\n".join(parts))


def failed_markdown(
    log: str | None,
    *,
    marker: str,
    environment: str,
    redactor: Redactor,
    run_url: str | None = None,
    limit: int = MAX_BODY,
) -> str:
    """The comment for a failed plan: the end of its (redacted) log."""
    head = [
        marker,
        f"### Terraform plan failed: `{environment}`",
        "",
        f"`terraform plan` for `{environment}` failed, so there is nothing to review and the "
        f"plan job fails too. Details: {_run_link(run_url)}.",
        "",
    ]
    if log is None:
        return redactor("\n".join([*head, "The plan log was not found."]))
    lines = redactor(_ANSI.sub("", log)).rstrip().split("\n")
    start = 0
    while True:
        tail = "\n".join(lines[start:])
        note = f"The last {len(lines) - start} of {len(lines)} log lines:" if start else "The log:"
        body = redactor("\n".join([*head, note, "", _fence(tail, "text")]))
        if _size(body) <= limit or start >= len(lines):
            return body
        overshoot = _size(body) - limit
        while start < len(lines) and overshoot > 0:
            overshoot -= _size(lines[start]) + 1
            start += 1


def fork_markdown(*, marker: str, environment: str) -> str:
    return "\n".join(
        [
            marker,
            f"### Terraform plan not run: `{environment}`",
            "",
            "This pull request comes from a fork. GitHub gives workflows of fork pull requests "
            "no OIDC token, so they cannot assume the plan role in AWS; the plan runs only for "
            "branches of this repository. A maintainer can push the branch here to get a plan.",
        ]
    )
