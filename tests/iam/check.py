"""`make iam-check`: every call each role's user makes, evaluated against the role's policies.

    python -m tests.iam.check [--env dev --env prod] [--plan-dir DIR]

Prints a table per role (checked / allowed / denied / not evaluable, each denied call with
its action, ARN and the statement that denies it or the missing allow), the calls whose
authorization rests on a tag the same apply has just set, and the granted actions no call
uses: each must be justified in JUSTIFIED_UNUSED (then listed as informational) or it fails
the run. Exit status 1 when any call is denied or any unused grant is unjustified, 2 when it
cannot run.

Policies: as Terraform rendered them, from `terraform show -json` of the applied states that
`make tf-plan-offline` writes (`<plan-dir>/<env>.state.json`, `bootstrap.state.json`: the
dev/prod plans and the bootstrap's, applied with the aws stand-in into throwaway local
states, so every value is known), key and bucket policies included; the ARNs the calls name
come from the same states (`policies.Rendered`). Not-evaluable calls are listed but do not
fail the run: they are unproven, not denied, and each names the condition key or the
unavailable managed policy that makes it so.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.iam import calls as roles
from tests.iam.evaluate import (
    EvaluatorMissingError,
    Unused,
    Verdict,
    evaluate,
    unused_grants,
    with_vendored,
)
from tests.iam.policies import Rendered, Stack, from_state

REPO = Path(__file__).resolve().parents[2]
PLANS = REPO / ".data" / "plans"

RoleCalls = Callable[[roles.Names], list[roles.Call]]


@dataclass
class RoleKind:
    label: str
    calls: RoleCalls | None  # None: no calls are known for it (reported)


def role_kinds(n: roles.Names) -> dict[str, RoleKind]:
    """Role name -> what it is, for the roles of one environment (and the shared ones)."""
    return {
        f"{n.name}-task-exec": RoleKind("task execution role", roles.task_execution),
        f"{n.name}-task": RoleKind("task role", roles.task_role),
        f"{n.app}-github-deploy-{n.env}": RoleKind("deploy role", roles.deploy_role),
        f"{n.app}-github-apply-{n.env}": RoleKind("apply role", roles.apply_role),
        f"{n.app}-github-plan": RoleKind("plan role", roles.plan_role),
        f"{n.name}-flow-logs-": RoleKind("flow logs role", roles.flow_logs_role),
        f"{n.app}-apigateway-cloudwatch": RoleKind(
            "API Gateway CloudWatch role", roles.apigateway_cloudwatch_role
        ),
        # Blue/green (deployment_strategy = "BLUE_GREEN"; modules/blue_green).
        f"{n.name}-smoke-hook": RoleKind("smoke hook execution role", roles.smoke_hook_role),
        f"{n.name}-smoke-hook-invoke": RoleKind("hook-invoke role (ECS)", roles.hook_invoke_role),
        f"{n.name}-ecs-infrastructure": RoleKind(
            "ECS infrastructure role", roles.ecs_infrastructure_role
        ),
    }


def _kind(kinds: dict[str, RoleKind], role: str) -> RoleKind | None:
    if role in kinds:
        return kinds[role]
    return next(
        (k for prefix, k in kinds.items() if prefix.endswith("-") and role.startswith(prefix)), None
    )


class PlansMissingError(Exception):
    """The applied states are not there: `make tf-plan-offline` writes them."""


def _read(plan_dir: Path, name: str) -> dict[str, Any]:
    path = plan_dir / name
    if not path.exists():
        raise PlansMissingError(
            f"{path} is missing: run `make tf-plan-offline` (it plans and applies dev, prod "
            "and the bootstrap into throwaway local states with the aws stand-in)"
        )
    return dict(json.loads(path.read_text(encoding="utf-8")))


def load_env(env: str, plan_dir: Path = PLANS) -> tuple[Stack, roles.Names]:
    """The environment's policies and the names its calls use, both from the applied states."""
    state, boot_state = (
        _read(plan_dir, f"{env}.state.json"),
        _read(plan_dir, "bootstrap.state.json"),
    )
    stack = from_state(state, boot_state)
    n = roles.names(
        env,
        Rendered(_read(plan_dir, f"{env}.json"), state),
        Rendered(_read(plan_dir, "bootstrap.json"), boot_state),
    )
    return stack, n


# Granted actions that no recorded or tabled call uses and that stay granted anyway:
# (statement Sid, action as the statement spells it) -> why, with its source. Any other
# unused grant fails the run: remove it, or add the call that uses it (cited) to the
# call lists, or justify it here.
JUSTIFIED_UNUSED: dict[tuple[str, str], str] = {}


@dataclass
class RoleReport:
    env: str
    role: str
    label: str
    verdicts: list[Verdict]
    unused: list[Unused]
    note: str = ""

    def count(self, outcome: str) -> int:
        return sum(v.outcome == outcome for v in self.verdicts)

    def unjustified(self, justified: dict[tuple[str, str], str] | None = None) -> list[Unused]:
        known = JUSTIFIED_UNUSED if justified is None else justified
        return [u for u in self.unused if (u.sid, u.action) not in known]


def stale_justifications(
    reports: list[RoleReport], justified: dict[tuple[str, str], str] | None = None
) -> list[tuple[str, str]]:
    """Justified entries that no report lists as unused any more (granted and now used, or
    no longer granted): a justification outlives its grant only by mistake."""
    known = JUSTIFIED_UNUSED if justified is None else justified
    seen = {(u.sid, u.action) for r in reports for u in r.unused}
    return sorted(set(known) - seen)


def check_env(env: str, stack: Stack, seen: set[str], n: roles.Names) -> list[RoleReport]:
    kinds = role_kinds(n)
    reports = []
    for role, pols in sorted(stack.roles.items()):
        kind = _kind(kinds, role)
        if kind is None or role in seen:
            continue
        pols = with_vendored(pols)
        if kind.calls is None:
            note = (
                "no call list; policies not available offline: " + ", ".join(pols.unavailable)
                if pols.unavailable
                else "no call list"
            )
            reports.append(RoleReport(env, role, kind.label, [], [], note))
            seen.add(role)
            continue
        seen.add(role)
        calls = kind.calls(n)
        verdicts = evaluate(pols, calls, stack.resource_policies) if calls else []
        note = ""
        if not calls:
            note = "no calls: run `make pytest` first so the tests record them"
        if pols.unavailable:
            note += (
                (" " if note else "")
                + "cannot evaluate attached "
                + ", ".join(pols.unavailable)
                + " (not available offline)"
            )
        reports.append(
            RoleReport(env, role, kind.label, verdicts, unused_grants(pols, verdicts), note)
        )
    return reports


def _dedupe(verdicts: list[Verdict]) -> list[Verdict]:
    seen, out = set(), []
    for v in verdicts:
        key = (
            v.call.action,
            v.call.resource,
            json.dumps(v.call.context, sort_keys=True),
            v.call.fresh_tag,
        )
        if key not in seen:
            seen.add(key)
            out.append(v)
    return out


def render(reports: list[RoleReport], source: str) -> str:
    lines = [f"iam-check: policies from {source}"]
    for r in reports:
        r.verdicts = _dedupe(r.verdicts)
        lines.append("")
        lines.append(f"== {r.label}: {r.role} ({r.env})")
        if r.note:
            lines.append(f"   note: {r.note}")
        lines.append(
            f"   checked {len(r.verdicts)}  allowed {r.count('allowed')}  "
            f"denied {r.count('denied')}  not evaluable {r.count('not evaluable')}"
        )
        for v in r.verdicts:
            if v.outcome != "allowed":
                lines.append(f"   {v.outcome.upper():<14} {v.call.action:<45} {v.call.resource}")
                lines.append(f"   {'':<14} {v.why}  [{v.call.operation}; {v.call.source}]")
        fresh = [
            v
            for v in r.verdicts
            if v.outcome == "allowed" and v.call.fresh_tag and _rests_on_resource_tag(v)
        ]
        if fresh:
            lines.append(
                f"   timing: {len(fresh)} allowed call(s) rest on the Environment tag "
                "the same apply has just set:"
            )
            for v in fresh:
                lines.append(f"     {v.call.action} ({v.call.operation})")
        justified = [u for u in r.unused if u not in r.unjustified()]
        if justified:
            lines.append(
                f"   informational: {len(justified)} granted action(s) no call uses, each "
                "justified (tests/iam/check.py JUSTIFIED_UNUSED): " + ", ".join(map(str, justified))
            )
        for u in r.unjustified():
            lines.append(f"   UNUSED GRANT   {u}: no call uses it and nothing justifies it")
    return "\n".join(lines)


_GRANT_CONDITIONS: dict[tuple[str, int], bool] = {}


def _rests_on_resource_tag(v: Verdict) -> bool:
    return any(_GRANT_CONDITIONS.get(g, False) for g in v.grants)


def _index_conditions(stack: Stack) -> None:
    for pols in stack.roles.values():
        for d in pols.identity:
            stmts = d.policy.get("Statement", [])
            for i, st in enumerate(stmts if isinstance(stmts, list) else [stmts], start=1):
                text = json.dumps(st.get("Condition", {}))
                _GRANT_CONDITIONS[(d.name, i)] = "aws:ResourceTag/" in text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m tests.iam.check", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--env", action="append", help="environment (default: dev and prod)")
    ap.add_argument("--plan-dir", type=Path, default=PLANS)
    args = ap.parse_args(argv)
    envs = args.env or ["dev", "prod"]
    if not roles.RECORDED.exists():
        print(
            f"iam-check: {roles.RECORDED.relative_to(REPO)} is missing: "
            "run `make pytest` first (the tests record the calls)",
            file=sys.stderr,
        )
        return 2
    reports: list[RoleReport] = []
    seen: set[str] = set()
    sources = set()
    try:
        for env in envs:
            stack, n = load_env(env, args.plan_dir)
            sources.add(stack.source)
            _index_conditions(stack)
            reports += check_env(env, stack, seen, n)
    except EvaluatorMissingError as e:
        print(f"skipped: iam-check ({e})")
        return 0
    except PlansMissingError as e:
        print(f"iam-check: {e}", file=sys.stderr)
        return 2
    print(render(reports, ", ".join(sorted(sources))))
    denied = sum(r.count("denied") for r in reports)
    unjustified = sum(len(r.unjustified()) for r in reports)
    stale = stale_justifications(reports) if set(envs) >= {"dev", "prod"} else []
    print()
    if unjustified:
        print(
            "iam-check: a granted action no call uses is either removed, given its cited call, "
            "or justified in JUSTIFIED_UNUSED (a recording of part of the suite lacks calls: "
            "`make pytest` records them all)"
        )
    for sid, action in stale:
        print(f"iam-check: JUSTIFIED_UNUSED names {action} ({sid}), which is no longer unused")
    print(
        f"iam-check: {sum(len(r.verdicts) for r in reports)} calls checked, "
        f"{sum(r.count('allowed') for r in reports)} allowed, {denied} denied, "
        f"{sum(r.count('not evaluable') for r in reports)} not evaluable; "
        f"{unjustified} unjustified unused grant(s)"
    )
    return 1 if denied or unjustified or stale else 0


if __name__ == "__main__":
    sys.exit(main())
