"""Refuse to apply a plan that is not the one reviewed on the merged pull request.

On the pull request, `summarize` writes what the reviewer saw (uploaded as an artifact); on
merge, `compare` checks the plan about to be applied against it.

What "the same plan" means here:
  * the same set of resource addresses with a change, each with the same actions
    (`create`, `update`, `delete`, `forget`, ...), the same previous address (a `moved`
    block) and the same import flag; no-op entries and data-source reads are not changes
    and are left out, like resource drift (`resource_drift`) and output changes. A `forget`
    (a `removed {}` block with `destroy = false`) is a change: the object leaves the state;
  * for each of them, what the configuration changes, compared as SHA-256 digests of the
    JSON values at each attribute path: for a create or a replacement the whole planned
    value (`after`); for an in-place update only the paths whose `after` differs from
    `before`. An attribute under `ignore_changes`, or one refreshed from AWS, has the same
    value in `before` and `after` and so is not part of the comparison: a rollout changes
    the ECS service's `task_definition` and autoscaling its `desired_count` between review
    and merge, and neither is something the reviewer approved or the apply will change.
    A path whose value is unknown until apply (`after_unknown`) in EITHER plan is ignored,
    together with everything below it: its value depends on AWS at apply time;
  * a value Terraform marks sensitive is compared by presence only. The summary is an
    artifact anyone with read access can download, and a digest of a short secret can be
    reversed by guessing; a changed secret value is not a reason to refuse an apply.

No reviewed summary (a push to main without a pull request, or an artifact that expired)
is a refusal too. `--allow-unreviewed` is the documented override for an operator who
dispatches the release by hand: the difference is then printed as a warning, written to
the step summary, and the exit code is 0.

Usage:
    python -m deploy.plan_guard summarize --plan-json plan.json --out plan-summary.json
    python -m deploy.plan_guard compare --reviewed plan-summary.json --plan-json plan.json
                                        [--allow-unreviewed]

Exit codes:
    0  summary written; or the plans are the same (or differ, with --allow-unreviewed)
    1  the plans differ, or there is no reviewed summary
    2  called wrongly: unreadable plan JSON or summary file
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from deploy._cli import EXIT_OK, ConfigError, DeployError, run, write_step_summary
from deploy._plan import SENSITIVE, SENSITIVE_CHANGED, UNKNOWN, Change, Marker, Plan, load_plan

__all__ = ["PlanMismatchError", "compare", "differences", "main", "summarize"]

SUMMARY_FORMAT = 2  # 2: updates hold only the paths they change
_MAX_NAMED = 5


class PlanMismatchError(DeployError):
    """The plan to apply is not the reviewed one (or nothing was reviewed)."""


def summarize(plan: Plan) -> dict[str, Any]:
    """What a reviewer approved, without any value in clear."""
    changes: dict[str, Any] = {}
    for change in plan.changes:
        if change.mode == "data" or (
            change.kind == "no-op" and not change.moved and not change.importing
        ):
            continue
        values: dict[str, str] = {}
        unknown: list[str] = []
        for path, leaf in _configured(change):
            if leaf is UNKNOWN:
                unknown.append(path)
            else:
                values[path] = _digest(leaf)
        changes[change.address] = {
            "actions": list(change.actions),
            "previous_address": change.previous_address if change.moved else None,
            "importing": change.importing,
            "values": values,
            "unknown": unknown,
        }
    return {
        "format": SUMMARY_FORMAT,
        "terraform_version": plan.terraform_version,
        "changes": changes,
    }


_ABSENT = Marker("(absent)")  # a path `before` has and `after` no longer has


def _configured(change: Change) -> Iterator[tuple[str, Any]]:
    """(path, planned value) of what applying `change` sets: everything for a new object,
    only what differs from `before` for an update in place."""
    after = list(_leaves(change.after, ""))
    if change.kind != "update":
        yield from after
        return
    before = dict(_leaves(change.before, ""))
    for path, leaf in after:
        if path not in before or before[path] != leaf or leaf is UNKNOWN:
            yield path, leaf
    planned = {path for path, _ in after}
    for path in before:
        if path not in planned and not _under(path, planned):
            yield path, _ABSENT


def _leaves(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        for key in sorted(value):
            yield from _leaves(value[key], f"{path}.{key}" if path else str(key))
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}[{index}]")
    else:
        yield path, value


def _digest(value: Any) -> str:
    if value is SENSITIVE or value is SENSITIVE_CHANGED:
        return "sensitive"
    if value is _ABSENT:
        return "absent"
    encoded = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()[:32]


def _under(path: str, prefixes: set[str]) -> bool:
    return any(p == "" or path == p or path.startswith((p + ".", p + "[")) for p in prefixes)


def differences(reviewed: dict[str, Any], current: dict[str, Any]) -> dict[str, list[str]]:
    """Addresses grouped by how they differ: `new`, `gone`, `actions`, `values`."""
    old, new = reviewed["changes"], current["changes"]
    found: dict[str, list[str]] = {
        "new": sorted(set(new) - set(old)),
        "gone": sorted(set(old) - set(new)),
        "actions": [],
        "values": [],
    }
    for address in sorted(set(old) & set(new)):
        a, b = old[address], new[address]
        if (a["actions"], a["previous_address"], a["importing"]) != (
            b["actions"],
            b["previous_address"],
            b["importing"],
        ):
            found["actions"].append(address)
            continue
        ignored = set(a["unknown"]) | set(b["unknown"])
        paths = {p for p in set(a["values"]) | set(b["values"]) if not _under(p, ignored)}
        if any(a["values"].get(p) != b["values"].get(p) for p in paths):
            found["values"].append(address)
    return {kind: addresses for kind, addresses in found.items() if addresses}


_WORDS = {
    "new": "not in the reviewed plan",
    "gone": "reviewed but no longer planned",
    "actions": "with other actions",
    "values": "with other values",
}


def _sentence(found: dict[str, list[str]]) -> str:
    parts = []
    for kind, addresses in found.items():
        named = ", ".join(addresses[:_MAX_NAMED])
        more = f" and {len(addresses) - _MAX_NAMED} more" if len(addresses) > _MAX_NAMED else ""
        parts.append(f"{len(addresses)} change(s) {_WORDS[kind]} ({named}{more})")
    return "; ".join(parts)


def compare(reviewed_path: Path, plan: Plan, allow_unreviewed: bool) -> int:
    current = summarize(plan)
    if not reviewed_path.is_file():
        problem = (
            f"there is no reviewed plan summary at {reviewed_path}: this commit reached main "
            "without a pull request whose plan was reviewed (or its artifact expired)"
        )
    else:
        found = differences(_load_summary(reviewed_path), current)
        if not found:
            print(f"the plan to apply is the reviewed one ({len(current['changes'])} changes).")
            write_step_summary("**Plan guard:** the plan to apply is the one reviewed on the PR.")
            return EXIT_OK
        problem = (
            "the plan to apply differs from the plan reviewed on the pull request: "
            + _sentence(found)
        )
    if allow_unreviewed:
        print(
            f"::warning title=Applying an unreviewed plan::{problem}; applying anyway "
            "because --allow-unreviewed was given."
        )
        write_step_summary(f"**Plan guard: applied without a reviewed plan.** {problem}.")
        return EXIT_OK
    write_step_summary(f"**Plan guard refused the apply.** {problem}.")
    raise PlanMismatchError(
        f"{problem}; open a pull request to review this plan, or dispatch the release with "
        "allow-unreviewed to apply it anyway."
    )


def _load_summary(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read the reviewed plan summary {path}: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != SUMMARY_FORMAT:
        raise ConfigError(
            f"{path} is not a plan summary of format {SUMMARY_FORMAT}; "
            "write it with `python -m deploy.plan_guard summarize` (re-run the pull request's "
            "plan: a summary from an older version of this tool is not comparable)."
        )
    if not isinstance(data.get("changes"), dict):
        raise ConfigError(f"{path} has no `changes` object.")
    return data


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.plan_guard",
        description="Summarize a reviewed plan, or refuse to apply a plan that differs from it.",
        epilog="Exit codes: 0 same plan (or summary written), 1 differs or unreviewed, 2 usage.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    summary = commands.add_parser("summarize", help="write what the reviewer saw")
    summary.add_argument("--plan-json", type=Path, required=True)
    summary.add_argument("--out", type=Path, required=True)
    check = commands.add_parser("compare", help="check the plan to apply against the reviewed one")
    check.add_argument("--reviewed", type=Path, required=True, help="summary from the PR")
    check.add_argument("--plan-json", type=Path, required=True, help="the plan to apply")
    check.add_argument(
        "--allow-unreviewed",
        action="store_true",
        help="warn instead of refusing (for a release dispatched by hand)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return run(lambda: _main(args))


def _main(args: argparse.Namespace) -> int:
    plan = load_plan(args.plan_json)
    if args.command == "summarize":
        summary = summarize(plan)
        try:
            args.out.write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n", "utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot write the plan summary {args.out}: {exc}") from exc
        print(f"wrote the summary of {len(summary['changes'])} changes to {args.out}")
        return EXIT_OK
    return compare(args.reviewed, plan, args.allow_unreviewed)


if __name__ == "__main__":
    sys.exit(main())
