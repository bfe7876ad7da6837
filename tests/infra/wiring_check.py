"""The wiring errors `terraform validate` reports, found in parsed HCL.

- a module call that passes a variable the module does not declare, or misses a required one;
- a `var.`, `local.`, `module.<m>.<output>`, `data.` or resource reference to nothing;
- a variable without a type or a description;
- a `moved` block whose old address is still declared or whose new address is not.
"""

from __future__ import annotations

import re

from tfconfig import Config, blocks, strings

META_ARGS = {"source", "version", "count", "for_each", "providers", "depends_on"}
_REF = {
    "var": re.compile(r"(?<![\w.])var\.([A-Za-z_][\w-]*)"),
    "local": re.compile(r"(?<![\w.])local\.([A-Za-z_][\w-]*)"),
    "module": re.compile(r"(?<![\w.])module\.([A-Za-z_][\w-]*)(?:\[[^\]]*\])?\.([A-Za-z_][\w-]*)"),
    "data": re.compile(r"(?<![\w.])data\.([a-z][\w]*)\.([A-Za-z_][\w-]*)"),
    "resource": re.compile(r"(?<![\w.\"/:-])(aws_[a-z0-9_]+)\.([A-Za-z_][\w-]*)"),
}


def module_call_problems(cfg: Config) -> list[str]:
    problems = []
    for call, args in cfg.modules.items():
        target = Config.load(cfg.module_path(call))
        passed = set(args) - META_ARGS
        unknown = passed - set(target.variables)
        if unknown:
            problems.append(f"{cfg.rel}: module {call} passes undeclared {sorted(unknown)}")
        required = {n for n, v in target.variables.items() if "default" not in v}
        if required - passed:
            problems.append(f"{cfg.rel}: module {call} misses required {sorted(required - passed)}")
    return problems


def reference_problems(cfg: Config) -> list[str]:
    problems: list[str] = []
    resources = {(t, n) for _, t, n, _ in cfg.resources()}
    data = {(t, n) for _, t, n, _ in cfg.data_sources()}
    for fname, doc in cfg.files.items():
        where = f"{cfg.rel}/{fname}"
        # A `moved` block names addresses of the state, not objects: moved_problems checks them.
        exprs = strings({k: v for k, v in doc.items() if k != "moved"})
        for expr in (s for s in exprs if "${" in s):
            problems += [
                f"{where}: var.{n} is not declared"
                for n in _REF["var"].findall(expr)
                if n not in cfg.variables
            ]
            problems += [
                f"{where}: local.{n} is not declared"
                for n in _REF["local"].findall(expr)
                if n not in cfg.locals
            ]
            for call, out in _REF["module"].findall(expr):
                if call not in cfg.modules:
                    problems.append(f"{where}: module.{call} is not called")
                elif out not in Config.load(cfg.module_path(call)).outputs:
                    problems.append(f"{where}: module.{call} has no output {out}")
            problems += [
                f"{where}: data.{t}.{n} is not declared"
                for t, n in _REF["data"].findall(expr)
                if (t, n) not in data
            ]
            problems += [
                f"{where}: {t}.{n} is not declared"
                for t, n in _REF["resource"].findall(expr.replace("data.aws_", "data.x_"))
                if (t, n) not in resources
            ]
    return problems


def declares(cfg: Config, address: str) -> bool:
    """Whether `address` (`module.<call>....<type>.<name>`, relative to `cfg`) is declared."""
    parts = address.split(".")
    while parts[:1] == ["module"] and len(parts) > 2:
        if parts[1] not in cfg.modules:
            return False
        cfg, parts = Config.load(cfg.module_path(parts[1])), parts[2:]
    return len(parts) == 2 and any((t, n) == tuple(parts) for _, t, n, _ in cfg.resources())


def moved_addresses(cfg: Config) -> list[tuple[str, str]]:
    """(from, to) of every `moved` block of the module, relative to it."""
    return [
        (block["from"].strip("${}"), block["to"].strip("${}"))
        for doc in cfg.files.values()
        for block in blocks(doc.get("moved", []))
    ]


def moved_problems(cfg: Config) -> list[str]:
    """What `terraform plan` refuses in a `moved` block (the old object still declared), and
    the slip it accepts (a new address nothing declares: the moved object is destroyed)."""
    problems = []
    for old, new in moved_addresses(cfg):
        if declares(cfg, old):
            problems.append(f"{cfg.rel}: moved from {old}, which is still declared")
        if not declares(cfg, new):
            problems.append(f"{cfg.rel}: moved to {new}, which is not declared")
    return problems


def variable_problems(cfg: Config) -> list[str]:
    problems = []
    for name, var in cfg.variables.items():
        if "type" not in var:
            problems.append(f"{cfg.rel}: variable {name} has no type")
        if len(str(var.get("description", "")).strip()) < 10:
            problems.append(f"{cfg.rel}: variable {name} has no real description")
    return problems


def unused_problems(cfg: Config) -> list[str]:
    """Declarations nothing refers to (tflint's terraform_unused_declarations)."""
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(cfg.path.glob("*.tf")))
    problems = [
        f"{cfg.rel}: variable {n} is never used"
        for n in cfg.variables
        if not re.search(rf"\bvar\.{re.escape(n)}\b", text)
    ]
    problems += [
        f"{cfg.rel}: local {n} is never used"
        for n in cfg.locals
        if not re.search(rf"\blocal\.{re.escape(n)}\b", text)
    ]
    problems += [
        f"{cfg.rel}: data.{t}.{n} is never used"
        for _, t, n, _ in cfg.data_sources()
        if not re.search(rf"\bdata\.{t}\.{re.escape(n)}\b", text)
    ]
    return problems
