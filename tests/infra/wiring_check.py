"""What Terraform accepts and this repository does not, found in parsed HCL.

- a variable without a type or a description, a declaration nothing uses (tflint's rules,
  for where tflint cannot run);
- a `moved` block whose new address is not declared (`terraform plan` accepts it and
  destroys the object) or whose old one still is.
"""

from __future__ import annotations

import re

from tests.infra.tfconfig import Config, blocks


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
