"""The stack's names, spelled out from the configuration for `tests/iam/calls.py`: the subset
of HCL expressions terraform/ uses (references, interpolation, lists, objects, `for`
expressions, `concat`/`length`/`merge`/`keys`/`try`, comparisons and `? :`) over what
python-hcl2 parses, with the variables of `envs/<env>.tfvars`; what the provider computes
(ARNs, IDs) is formed the way AWS forms it for a fixed test account (`computed()`). Anything
else raises RenderError naming the expression.

It no longer renders policies: `make iam-check` reads every policy, and every ARN a call
names (`policies.Rendered`), from Terraform's own rendering (the applied offline plans).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
from hcl2 import SerializationOptions

REPO = Path(__file__).resolve().parents[2]
TERRAFORM = REPO / "terraform"
ACCOUNT = "111122223333"  # the fixed test account (AWS's documentation account id)
PARTITION = "aws"

_OPTIONS = SerializationOptions(strip_string_quotes=True, with_comments=False)
_MARKERS = frozenset({"__is_block__", "__comments__", "__start_line__", "__end_line__"})


class RenderError(Exception):
    """An expression this stand-in cannot evaluate."""


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k not in _MARKERS}


################################################################################
# Configuration
################################################################################


@dataclass
class Module:
    path: Path
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)
    resources: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    data: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)


_CACHE: dict[Path, Module] = {}


def load_module(path: Path) -> Module:
    path = path.resolve()
    if path in _CACHE:
        return _CACHE[path]
    mod = Module(path)
    for tf in sorted(path.glob("*.tf")):
        with tf.open(encoding="utf-8") as fh:
            parsed = hcl2.load(fh, serialization_options=_OPTIONS)
        for block in parsed.get("variable", []):
            for name, body in block.items():
                mod.variables[name] = _clean(body)
        for block in parsed.get("locals", []):
            mod.locals.update(_clean(block))
        for block in parsed.get("output", []):
            for name, body in block.items():
                mod.outputs[name] = _clean(body)
        for block in parsed.get("module", []):
            for name, body in block.items():
                mod.modules[name] = _clean(body)
        for kind, target in (("resource", mod.resources), ("data", mod.data)):
            for block in parsed.get(kind, []):
                for rtype, named in block.items():
                    for name, body in named.items():
                        target[(rtype, name)] = body
    _CACHE[path] = mod
    return mod


def tfvars(env: str) -> dict[str, Any]:
    with (TERRAFORM / "envs" / f"{env}.tfvars").open(encoding="utf-8") as fh:
        return dict(hcl2.load(fh, serialization_options=_OPTIONS))


################################################################################
# Expressions
################################################################################

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<num>\d+(?:\.\d+)?)
    | (?P<str>")
    | (?P<op>==|!=|>=|<=|&&|\|\||=>|\.\.\.|[-+*/%<>!?:,()\[\]{}.=])
    | (?P<name>[A-Za-z_][\w-]*)
    )""",
    re.VERBOSE,
)


def _read_string(text: str, i: int) -> tuple[str, int]:
    """The template text of a quoted string starting after its `"`; returns (raw, next)."""
    out, depth = [], 0
    while i < len(text):
        c = text[i]
        if depth == 0 and c == "\\":
            out.append(text[i : i + 2])
            i += 2
            continue
        if depth == 0 and c == '"':
            return "".join(out), i + 1
        if text.startswith("${", i):
            depth += 1
            out.append("${")
            i += 2
            continue
        if depth and c == "{":
            depth += 1
        elif depth and c == "}":
            depth -= 1
        elif depth and c == '"':
            raw, j = _read_string(text, i + 1)
            out.append('"' + raw + '"')
            i = j
            continue
        out.append(c)
        i += 1
    raise RenderError(f"unterminated string in {text!r}")


def _tokens(text: str) -> list[tuple[str, str]]:
    out, i = [], 0
    while i < len(text):
        if text[i:].strip() == "":
            break
        m = _TOKEN.match(text, i)
        if not m:
            raise RenderError(f"cannot read {text[i:]!r}")
        kind = m.lastgroup or ""
        if kind == "str":
            raw, i = _read_string(text, m.end())
            out.append(("str", raw))
            continue
        out.append((kind, m.group(kind)))
        i = m.end()
    out.append(("end", ""))
    return out


@dataclass(frozen=True)
class Index:
    key: Any


class _Parser:
    """Recursive descent over one expression; evaluates as it parses (no AST)."""

    def __init__(self, ev: Evaluator, text: str, bindings: dict[str, Any]) -> None:
        self.ev, self.text, self.bindings = ev, text, bindings
        self.toks = _tokens(text)
        self.i = 0

    def peek(self, off: int = 0) -> tuple[str, str]:
        return self.toks[self.i + off]

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.toks[self.i]
        if value is not None and tok[1] != value:
            raise RenderError(f"expected {value!r} at {tok[1]!r} in {self.text!r}")
        self.i += 1
        return tok

    def parse(self) -> Any:
        value = self.expr()
        if self.peek()[0] != "end":
            raise RenderError(f"unexpected {self.peek()[1]!r} in {self.text!r}")
        return value

    def expr(self) -> Any:
        cond = self.or_()
        if self.peek()[1] == "?":
            self.take("?")
            # Both branches are parsed; HCL evaluates only the chosen one, and so do we by
            # skipping evaluation errors of the other one.
            a = self._branch()
            self.take(":")
            b = self._branch()
            chosen = a if cond else b
            if isinstance(chosen, RenderError):
                raise chosen
            return chosen
        return cond

    def _branch(self) -> Any:
        try:
            return self.expr()
        except RenderError as e:
            self._skip_branch()
            return e

    def _skip_branch(self) -> None:
        depth = 0
        while True:
            kind, val = self.peek()
            if kind == "end" or (depth == 0 and val in {":", ",", ")", "]", "}"}):
                return
            if val in "([{":
                depth += 1
            elif val in ")]}":
                depth -= 1
            self.i += 1

    def or_(self) -> Any:
        v = self.and_()
        while self.peek()[1] == "||":
            self.take()
            w = self.and_()
            v = bool(v) or bool(w)
        return v

    def and_(self) -> Any:
        v = self.cmp()
        while self.peek()[1] == "&&":
            self.take()
            w = self.cmp()
            v = bool(v) and bool(w)
        return v

    def cmp(self) -> Any:
        v = self.unary()
        op = self.peek()[1]
        if op in {"==", "!=", ">", "<", ">=", "<="}:
            self.take()
            w = self.unary()
            return {
                "==": lambda: v == w,
                "!=": lambda: v != w,
                ">": lambda: v > w,
                "<": lambda: v < w,
                ">=": lambda: v >= w,
                "<=": lambda: v <= w,
            }[op]()
        return v

    def unary(self) -> Any:
        if self.peek()[1] == "!":
            self.take()
            return not self.unary()
        if self.peek()[1] == "-":
            self.take()
            return -self.unary()
        return self.postfix()

    def postfix(self) -> Any:
        kind, val = self.peek()
        if kind == "name" and val not in {"true", "false", "null", "for"}:
            return self.reference()
        v = self.primary()
        while self.peek()[1] in {".", "["}:
            v = self._index(v, self._segment())
        return v

    def _segment(self) -> str | Index:
        """`.name` is an attribute (a str), `[expr]` an index (an Index)."""
        if self.take()[1] == ".":
            return self.take()[1]
        key = self.expr()
        self.take("]")
        return Index(key)

    @staticmethod
    def _index(v: Any, seg: str | Index) -> Any:
        key = seg.key if isinstance(seg, Index) else seg
        try:
            if isinstance(v, list):
                return v[int(key)]
            return v[key]
        except (KeyError, IndexError, TypeError, ValueError) as e:
            raise RenderError(f"cannot index {key!r}") from e

    def reference(self) -> Any:
        head = self.take()[1]
        if self.peek()[1] == "(":
            return self.call(head)
        path: list[str | Index] = [head]
        while self.peek()[1] in {".", "["}:
            if self.peek()[1] == "." and self.peek(1)[0] != "name":
                break
            path.append(self._segment())
        if head in self.bindings:
            value = self.bindings[head]
            for seg in path[1:]:
                value = self._index(value, seg)
            return value
        return self.ev.resolve(path)

    def call(self, fn: str) -> Any:
        self.take("(")
        args: list[Any] = []
        errors: list[RenderError] = []
        while self.peek()[1] != ")":
            if fn in {"try", "can"}:
                arg = self._branch()
                (errors if isinstance(arg, RenderError) else args).append(arg)
            else:
                args.append(self.expr())
            if self.peek()[1] == "...":  # expand the last argument (a list) into arguments
                self.take()
                args = args[:-1] + list(args[-1])
            if self.peek()[1] == ",":
                self.take()
        self.take(")")
        if fn == "try":
            if args:
                return args[0]
            raise errors[0]
        if fn == "can":
            return not errors
        funcs: dict[str, Callable[..., Any]] = {
            "concat": lambda *xs: [x for lst in xs for x in lst],
            "length": len,
            "merge": lambda *ds: {k: v for d in ds for k, v in d.items()},
            "keys": lambda d: sorted(d),
            "values": lambda d: [d[k] for k in sorted(d)],
            "tostring": str,
            "replace": _replace,
            "regex": _regex,
            "sort": sorted,
            "distinct": lambda xs: list(dict.fromkeys(xs)),
            "flatten": lambda xs: [y for x in xs for y in (x if isinstance(x, list) else [x])],
        }
        if fn not in funcs:
            raise RenderError(f"function {fn}() in {self.text!r}")
        return funcs[fn](*args)

    def primary(self) -> Any:
        kind, val = self.take()
        if kind == "num":
            return float(val) if "." in val else int(val)
        if kind == "str":
            return self.ev.template(val, self.bindings)
        if val in {"true", "false"}:
            return val == "true"
        if val == "null":
            return None
        if val == "(":
            v = self.expr()
            self.take(")")
            return v
        if val == "[":
            if self.peek()[1] == "for":
                return self.for_expr("]")
            items = []
            while self.peek()[1] != "]":
                items.append(self.expr())
                if self.peek()[1] == ",":
                    self.take()
            self.take("]")
            return items
        if val == "{":
            if self.peek()[1] == "for":
                return self.for_expr("}")
            obj = {}
            while self.peek()[1] != "}":
                k_kind, k = self.take()
                key = self.ev.template(k, self.bindings) if k_kind == "str" else k
                self.take(self.peek()[1] if self.peek()[1] in {"=", ":"} else "=")
                obj[key] = self.expr()
                if self.peek()[1] == ",":
                    self.take()
            self.take("}")
            return obj
        raise RenderError(f"unexpected {val!r} in {self.text!r}")

    def for_expr(self, close: str) -> Any:
        self.take("for")
        names = [self.take()[1]]
        if self.peek()[1] == ",":
            self.take()
            names.append(self.take()[1])
        self.take("in")
        coll = self.expr()
        self.take(":")
        start = self.i
        items = list(coll.items()) if isinstance(coll, dict) else list(enumerate(coll))
        out_list: list[Any] = []
        out_map: dict[str, Any] = {}
        if not items:
            self._skip_to(close)
            return {} if close == "}" else []
        for k, v in items:
            self.i = start
            b = dict(self.bindings)
            if len(names) == 2:
                b[names[0]], b[names[1]] = k, v
            else:
                b[names[0]] = v
            sub = _Parser.__new__(_Parser)
            sub.ev, sub.text, sub.bindings, sub.toks, sub.i = (
                self.ev,
                self.text,
                b,
                self.toks,
                start,
            )
            first = sub.expr()
            if close == "}":
                sub.take("=>")
                value = sub.expr()
            keep = True
            if sub.peek()[1] == "if":
                sub.take()
                keep = bool(sub.expr())
            if keep:
                if close == "}":
                    out_map[str(first)] = value
                else:
                    out_list.append(first)
            self.i = sub.i
        self.take(close)
        return out_map if close == "}" else out_list

    def _skip_to(self, close: str) -> None:
        depth = 0
        while True:
            val = self.peek()[1]
            if depth == 0 and val == close:
                self.take()
                return
            if val in "([{":
                depth += 1
            elif val in ")]}":
                depth -= 1
            self.i += 1


################################################################################
# Evaluation in a module instance
################################################################################


def _elb_id(*parts: str) -> str:
    """An Elastic Load Balancing id: 16 hex digits AWS chooses."""
    return fake_id(*parts).replace("-", "")[-16:]


def fake_id(*parts: str) -> str:
    """A stable stand-in for an ID AWS chooses (a KMS key id, a role-name suffix)."""
    return str(uuid.UUID(hashlib.sha256("/".join(parts).encode()).hexdigest()[:32]))


@dataclass
class Evaluator:
    """One module instance: its config, the arguments its caller passed, its `each`."""

    module: Module
    region: str
    args: dict[str, Any] = field(default_factory=dict)  # already evaluated
    where: str = ""  # module path, e.g. "module.secrets.module.kms"
    each: dict[str, Any] | None = None

    parent: Evaluator | None = None  # a child module's arguments are evaluated there, lazily
    raw_args: dict[str, Any] = field(default_factory=dict)

    def child(self, call: str) -> Evaluator:
        spec = self.module.modules[call]
        path = (self.module.path / spec["source"]).resolve()
        raw = {k: v for k, v in spec.items() if k not in {"source", "depends_on", "count"}}
        where = f"{self.where}.module.{call}".lstrip(".")
        return Evaluator(load_module(path), self.region, {}, where, None, self, raw)

    def _with_each(self, each: dict[str, Any] | None) -> Evaluator:
        return Evaluator(
            self.module, self.region, self.args, self.where, each, self.parent, self.raw_args
        )

    def value(self, v: Any, bindings: dict[str, Any] | None = None) -> Any:
        """A parsed HCL value: strings are templates, `${x}` alone is the expression x."""
        b = dict(bindings or {})
        if self.each is not None:
            b.setdefault("each", self.each)
        if isinstance(v, str):
            return self.template(v, b)
        if isinstance(v, list):
            return [self.value(x, b) for x in v]
        if isinstance(v, dict):
            return {k: self.value(x, b) for k, x in _clean(v).items()}
        return v

    def template(self, raw: str, bindings: dict[str, Any]) -> Any:
        parts = list(_split_template(raw))
        if len(parts) == 1 and parts[0][0] == "expr":
            return _Parser(self, parts[0][1], bindings).parse()
        out = []
        for kind, text in parts:
            if kind == "lit":
                out.append(_unescape(text.replace("$${", "${")))
            else:
                v = _Parser(self, text, bindings).parse()
                out.append(("true" if v else "false") if isinstance(v, bool) else str(v))
        return "".join(out)

    def resolve(self, path: list[str | Index]) -> Any:
        head = path[0]
        rest: list[str | Index]
        if head == "var":
            name, rest = str(path[1]), path[2:]
            if name in self.args:
                value = self.args[name]
            elif name in self.raw_args and self.parent is not None:
                value = self.parent.value(self.raw_args[name])
            elif "default" in self.module.variables.get(name, {}):
                value = self.value(self.module.variables[name]["default"])
            else:
                raise RenderError(f"var.{name} has no value in {self.module.path.name}")
        elif head == "local":
            name, rest = str(path[1]), path[2:]
            if name not in self.module.locals:
                raise RenderError(f"local.{name} is not defined in {self.module.path.name}")
            value = self._with_each(None).value(self.module.locals[name])
        elif head == "module":
            # module.x[0].out: a counted module (one instance at most in this stack).
            after = path[3:] if isinstance(path[2], Index) else path[2:]
            call, out, rest = str(path[1]), str(after[0]), after[1:]
            child = self.child(call)
            value = child.value(child.module.outputs[out]["value"])
        elif head == "data":
            value, rest = self._data(str(path[1]), str(path[2]), path[3:])
        elif head == "each":
            if self.each is None:
                raise RenderError("each outside for_each")
            value, rest = self.each, path[1:]
        else:
            if head == "path":
                return str(self.module.path)
            rtype, name, rest = str(head), str(path[1]), path[2:]
            body = self.module.resources.get((rtype, name))
            if body is None:
                raise RenderError(f"{rtype}.{name} is not in {self.module.path.name}")
            key = None
            if rest and isinstance(rest[0], Index):
                key, rest = str(rest[0].key), rest[1:]
            attr = str(rest[0]) if rest else ""
            value, rest = self.attribute(rtype, name, body, attr, key), rest[1:]
        for seg in rest:
            value = _Parser._index(value, seg)
        return value

    def _data(
        self, dtype: str, name: str, rest: list[str | Index]
    ) -> tuple[Any, list[str | Index]]:
        if rest and isinstance(rest[0], Index):
            rest = rest[1:]
        attr = str(rest[0]) if rest else ""
        known = {
            ("aws_caller_identity", "account_id"): ACCOUNT,
            ("aws_partition", "partition"): PARTITION,
            ("aws_region", "region"): self.region,
            ("aws_region", "name"): self.region,
        }
        if (dtype, attr) in known:
            return known[(dtype, attr)], rest[1:]
        raise RenderError(f"data.{dtype}.{name}.{attr} is known only to Terraform")

    def attribute(
        self, rtype: str, name: str, body: dict[str, Any], attr: str, key: str | None
    ) -> Any:
        each = None
        if key is not None and "for_each" in body:
            coll = self.value(body["for_each"])
            each = {"key": key, "value": coll[key] if isinstance(coll, dict) else key}
        inst = self._with_each(each)
        if attr in body and attr not in {"arn", "id"}:
            return inst.value(body[attr])
        return computed(inst, rtype, name, body, attr, key)


def _unescape(text: str) -> str:
    """HCL's string escapes (\\, \", \n, \t)."""
    return re.sub(
        r'\\([\\"nt])', lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text
    )


def _regex(pattern: str, text: str) -> Any:
    """Terraform's regex(): the match (or its groups); no match is an error (for can())."""
    m = re.search(pattern, text)
    if m is None:
        raise RenderError(f"regex {pattern!r} does not match {text!r}")
    return list(m.groups()) if m.groups() else m.group(0)


def _replace(text: str, sub: str, repl: str) -> str:
    """Terraform's replace(): `/.../` is a regular expression, anything else literal."""
    if len(sub) > 1 and sub.startswith("/") and sub.endswith("/"):
        return re.sub(sub[1:-1], repl, str(text))
    return str(text).replace(sub, repl)


def _split_template(raw: str) -> Iterator[tuple[str, str]]:
    i, lit = 0, []
    while i < len(raw):
        if raw.startswith("$${", i):
            lit.append("$${")
            i += 3
            continue
        if raw.startswith("${", i):
            if lit:
                yield "lit", "".join(lit)
                lit = []
            depth, j = 1, i + 2
            while depth:
                if j >= len(raw):
                    raise RenderError(f"unterminated ${{ in {raw!r}")
                c = raw[j]
                if c == '"':
                    _, j = _read_string(raw, j + 1)
                    continue
                depth += {"{": 1, "}": -1}.get(c, 0)
                j += 1
            yield "expr", raw[i + 2 : j - 1]
            i = j
            continue
        lit.append(raw[i])
        i += 1
    if lit or not raw:
        yield "lit", "".join(lit)


def computed(
    ev: Evaluator, rtype: str, name: str, body: dict[str, Any], attr: str, key: str | None
) -> Any:
    """What the provider computes, formed the way AWS forms it for the test account."""
    region, acct = ev.region, ACCOUNT

    def arg(a: str) -> str:
        return str(ev.value(body[a]))

    if rtype == "aws_kms_key" and attr in {"arn", "key_id", "id"}:
        kid = fake_id(ev.where, rtype, name)
        return kid if attr != "arn" else f"arn:{PARTITION}:kms:{region}:{acct}:key/{kid}"
    if rtype == "aws_secretsmanager_secret" and attr in {"arn", "id"}:
        # Secrets Manager appends a hyphen and six random characters to the name.
        return f"arn:{PARTITION}:secretsmanager:{region}:{acct}:secret:{arg('name')}-AbCdEf"
    if rtype == "aws_ecr_repository":
        if attr == "arn":
            return f"arn:{PARTITION}:ecr:{region}:{acct}:repository/{arg('name')}"
        if attr == "repository_url":
            return f"{acct}.dkr.ecr.{region}.amazonaws.com/{arg('name')}"
    if rtype == "aws_cloudwatch_log_group" and attr == "arn":
        return f"arn:{PARTITION}:logs:{region}:{acct}:log-group:{arg('name')}"
    if rtype == "aws_s3_bucket" and attr in {"arn", "id", "bucket"}:
        return f"arn:{PARTITION}:s3:::{arg('bucket')}" if attr == "arn" else arg("bucket")
    if rtype == "aws_iam_role" and attr in {"arn", "name", "id"}:
        role = arg("name") if "name" in body else arg("name_prefix") + "20261201000000000000000001"
        return f"arn:{PARTITION}:iam::{acct}:role/{role}" if attr == "arn" else role
    if rtype == "aws_iam_policy" and attr in {"arn", "id"}:
        return f"arn:{PARTITION}:iam::{acct}:policy/{arg('name')}"
    elb = f"arn:{PARTITION}:elasticloadbalancing:{region}:{acct}"
    # ELB ids: 16 hex digits AWS chooses.
    if rtype == "aws_lb" and attr in {"arn", "id"}:
        return f"{elb}:loadbalancer/net/{arg('name')}/{_elb_id(ev.where, rtype, name)}"
    if rtype == "aws_lb_target_group" and attr in {"arn", "id"}:
        return f"{elb}:targetgroup/{arg('name')}/{_elb_id(ev.where, rtype, name)}"
    if rtype == "aws_lb_listener" and attr in {"arn", "id"}:
        lb = arg("load_balancer_arn").split(":loadbalancer/", 1)[1]
        return f"{elb}:listener/{lb}/{_elb_id(ev.where, rtype, name)}"
    if rtype == "aws_lambda_function" and attr == "arn":
        return f"arn:{PARTITION}:lambda:{region}:{acct}:function:{arg('function_name')}"
    if rtype == "aws_iam_openid_connect_provider" and attr == "arn":
        host = arg("url").removeprefix("https://")
        return f"arn:{PARTITION}:iam::{acct}:oidc-provider/{host}"
    raise RenderError(f"{rtype}.{name}.{attr} is computed by the provider")
