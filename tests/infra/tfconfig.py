"""Read terraform/ the way Terraform does, without Terraform: parse, resolve, render.

- `Config` parses every `.tf` file of one directory (a Terraform module) with python-hcl2.
- `Stack` links the root module, its module calls and their modules, and resolves plain
  references (`var.x`, `local.x`, `module.m.out`, `aws_x.name.attr`) across them, so a test
  can ask "what port does the listener end up with?" and get 80.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import hcl2
from hcl2 import SerializationOptions

REPO = Path(__file__).resolve().parents[2]
TERRAFORM = REPO / "terraform"

_OPTIONS = SerializationOptions(strip_string_quotes=True, with_comments=False)
_PURE_REF = re.compile(r"^\$\{([A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*|\[\d+\]|\[\"[^\"]+\"\])*)\}$")
_INTERPOLATION = re.compile(r"\$\{([^${}]*)\}")
# Keys python-hcl2 adds that are not part of the configuration.
MARKERS = frozenset({"__is_block__", "__comments__", "__start_line__", "__end_line__"})


def is_block(value: Any) -> bool:
    return isinstance(value, dict) and value.get("__is_block__") is True


def blocks(value: Any) -> list[dict[str, Any]]:
    """The blocks written under one name (python-hcl2 gives a list of dicts)."""
    if isinstance(value, list):
        return [v for v in value if is_block(v)]
    return [value] if is_block(value) else []


def body(block: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in block.items() if k not in MARKERS}


_LOADED: dict[Path, Config] = {}


def parse_file(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        return dict(hcl2.load(fh, serialization_options=_OPTIONS))


@dataclass
class Config:
    """One Terraform module: every `.tf` file of a directory."""

    path: Path
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Config:
        path = path.resolve()
        if path not in _LOADED:
            files = {p.name: parse_file(p) for p in sorted(path.glob("*.tf"))}
            _LOADED[path] = cls(path=path, files=files)
        return _LOADED[path]

    @property
    def rel(self) -> str:
        if self.path.is_relative_to(REPO):
            return self.path.relative_to(REPO).as_posix()
        return self.path.as_posix()

    def _labelled(self, kind: str) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
        """(file, type, name, body) of every `resource` or `data` block."""
        for fname, doc in self.files.items():
            for entry in doc.get(kind, []):
                for rtype, named in entry.items():
                    for name, block in named.items():
                        yield fname, rtype, name, body(block)

    def resources(self) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
        return self._labelled("resource")

    def data_sources(self) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
        return self._labelled("data")

    def _named(self, kind: str) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for doc in self.files.values():
            for entry in doc.get(kind, []):
                for name, block in entry.items():
                    out[name] = body(block)
        return out

    @cached_property
    def variables(self) -> dict[str, dict[str, Any]]:
        return self._named("variable")

    @cached_property
    def outputs(self) -> dict[str, dict[str, Any]]:
        return self._named("output")

    @cached_property
    def modules(self) -> dict[str, dict[str, Any]]:
        return self._named("module")

    @cached_property
    def locals(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for doc in self.files.values():
            for block in doc.get("locals", []):
                out.update(body(block))
        return out

    def resource(self, rtype: str, name: str) -> dict[str, Any]:
        for _, t, n, b in self.resources():
            if (t, n) == (rtype, name):
                return b
        raise KeyError(f"{self.rel}: no resource {rtype}.{name}")

    def data(self, dtype: str, name: str) -> dict[str, Any]:
        for _, t, n, b in self.data_sources():
            if (t, n) == (dtype, name):
                return b
        raise KeyError(f"{self.rel}: no data {dtype}.{name}")

    def module_path(self, call: str) -> Path:
        return (self.path / self.modules[call]["source"]).resolve()


class UnresolvedError(Exception):
    """A reference the offline resolver cannot follow (a computed attribute, a function)."""


@dataclass
class Scope:
    """A module as instantiated: its config plus the arguments its caller passed."""

    config: Config
    args: dict[str, Any]
    parent: Scope | None = None


class Stack:
    """The root module and every module it calls, with reference resolution across them."""

    def __init__(self, root: Path = TERRAFORM) -> None:
        self.root = Scope(self.config(root), args={})

    def config(self, path: Path) -> Config:
        return Config.load(path)

    def child(self, scope: Scope, call: str) -> Scope:
        cfg = scope.config
        args = {k: v for k, v in cfg.modules[call].items() if k != "source"}
        return Scope(self.config(cfg.module_path(call)), args=args, parent=scope)

    def scope(self, *calls: str) -> Scope:
        scope = self.root
        for call in calls:
            scope = self.child(scope, call)
        return scope

    def resolve(self, scope: Scope, value: Any, depth: int = 0) -> Any:
        """Follow `value` while it is a single reference; interpolate references in strings."""
        if depth > 40:
            raise UnresolvedError(f"reference loop at {value!r}")
        if not isinstance(value, str):
            return value
        match = _PURE_REF.match(value)
        if match:
            return self._lookup(scope, match.group(1), depth)
        if "${" in value:
            return _INTERPOLATION.sub(lambda m: self._interpolate(scope, m.group(1), depth), value)
        return value

    def _interpolate(self, scope: Scope, expr: str, depth: int) -> str:
        try:
            resolved = self.resolve(scope, "${" + expr + "}", depth + 1)
        except UnresolvedError:
            return "${" + expr + "}"
        if isinstance(resolved, bool):
            return "true" if resolved else "false"
        return str(resolved)

    def _lookup(self, scope: Scope, ref: str, depth: int) -> Any:
        parts = re.findall(r"[A-Za-z_][\w-]*|\[\d+\]|\[\"[^\"]+\"\]", ref)
        head, rest = parts[0], parts[1:]
        cfg = scope.config
        if head == "var":
            name, rest = rest[0], rest[1:]
            if name in scope.args:
                if scope.parent is None:
                    raise UnresolvedError(f"var.{name} of the root module")
                value = self.resolve(scope.parent, scope.args[name], depth + 1)
            elif "default" in cfg.variables.get(name, {}):
                value = cfg.variables[name]["default"]
            else:
                raise UnresolvedError(f"var.{name} has no value in {cfg.rel}")
        elif head == "local":
            name, rest = rest[0], rest[1:]
            value = self.resolve(scope, cfg.locals[name], depth + 1)
        elif head == "module":
            call, out, rest = rest[0], rest[1], rest[2:]
            child = self.child(scope, call)
            value = self.resolve(child, child.config.outputs[out]["value"], depth + 1)
        elif head in {"data", "each", "count", "path", "terraform", "self"}:
            raise UnresolvedError(f"{ref} is known only to Terraform")
        else:
            rtype, name, rest = head, rest[0], rest[1:]
            resource = cfg.resource(rtype, name)
            if rest and rest[0].startswith("["):
                rest = rest[1:]  # an instance of count/for_each: same arguments
            if not rest or rest[0] not in resource:
                raise UnresolvedError(f"{ref} is computed by the provider")
            value = self.resolve(scope, resource[rest[0]], depth + 1)
            rest = rest[1:]
        for part in rest:
            key = part.strip('[]"')
            if isinstance(value, list) and key.isdigit():
                value = value[int(key)]
            elif isinstance(value, dict) and key in value:
                value = value[key]
            else:
                raise UnresolvedError(f"{ref}: cannot index {part}")
            value = self.resolve(scope, value, depth + 1)
        return value


def all_configs() -> list[Config]:
    """Every Terraform module directory under terraform/."""
    dirs = sorted({p.parent for p in TERRAFORM.rglob("*.tf") if ".terraform" not in p.parts})
    return [Config.load(d) for d in dirs]
