"""One import style in tests/: package imports (`from tests.deploy.aws_stack import Stack`).

A bare sibling import (`from aws_stack import Stack`) works only while pytest happens to put
the test's folder on sys.path, and imports the same file a second time under another name
(two `Stack` classes, two caches); an import from a conftest reaches into pytest's plugin
module. Fixtures reach a test by name from conftest.py; helpers live in named modules. Every
test folder is a package, so that pytest names each module by its package and puts no test
folder on sys.path. Relative imports are ruff's (TID252, pyproject.toml); ruff has no rule
for the rest (its INP001 would need the same settings in tools/aws-standin's configuration).
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_SKIP = {"__pycache__", ".venv", "node_modules"}


def _names_module(folder: Path, name: str) -> bool:
    return (folder / f"{name}.py").is_file() or (folder / name / "__init__.py").is_file()


def import_problems(root: Path) -> list[str]:
    """Each test folder that is no package, bare sibling import and import from a conftest
    under root/tests."""
    problems: list[str] = []
    for path in sorted((root / "tests").rglob("*.py")):
        if _SKIP & set(path.relative_to(root).parts):
            continue
        where = path.relative_to(root).as_posix()
        if not (path.parent / "__init__.py").is_file():
            problems.append(f"{where}: its folder has no __init__.py")
        package = ".".join(path.relative_to(root).parent.parts)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), where)):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
                named = modules
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules = [node.module]
                named = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            else:
                continue
            for module in modules:
                first = module.split(".")[0]
                # The root's own packages (app, deploy) are no siblings, even from tests/*.py,
                # which sit next to tests/app.
                if _names_module(path.parent, first) and not _names_module(root, first):
                    problems.append(
                        f"{where}:{node.lineno}: bare sibling import `{module}`: "
                        f"import it as `{package}.{module}`"
                    )
            problems += [
                f"{where}:{node.lineno}: imports a conftest (`{name}`): fixtures reach a "
                "test by name; move a helper to a named module"
                for name in named
                if name.split(".")[-1] == "conftest"
            ]
    return problems


def test_the_tests_use_package_imports_only() -> None:
    problems = import_problems(REPO)
    assert not problems, "\n".join(problems)


def test_a_planted_bare_import_and_a_conftest_import_are_found(tmp_path: Path) -> None:
    for folder in ("app", "tests", "tests/app", "tests/deploy"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        (tmp_path / folder / "__init__.py").write_text("")
    (tmp_path / "tests" / "iam").mkdir()
    (tmp_path / "tests" / "iam" / "test_b.py").write_text("import json\n")
    (tmp_path / "tests" / "deploy" / "aws_stack.py").write_text("STACK = 1\n")
    (tmp_path / "tests" / "deploy" / "conftest.py").write_text("")
    (tmp_path / "tests" / "deploy" / "test_a.py").write_text(
        "from aws_stack import STACK\n"
        "import tests.deploy.conftest as c\n"
        "from tests.deploy import conftest\n"
        "from tests.deploy.aws_stack import STACK as S\n"
        "import json\n"
    )
    # tests/app is next to tests/bench.py, but `app` there is the root's package
    (tmp_path / "tests" / "bench.py").write_text("from app.config import Settings\n")

    assert import_problems(tmp_path) == [
        "tests/deploy/test_a.py:1: bare sibling import `aws_stack`: import it as "
        "`tests.deploy.aws_stack`",
        "tests/deploy/test_a.py:2: imports a conftest (`tests.deploy.conftest`): fixtures "
        "reach a test by name; move a helper to a named module",
        "tests/deploy/test_a.py:3: imports a conftest (`tests.deploy.conftest`): fixtures "
        "reach a test by name; move a helper to a named module",
        "tests/iam/test_b.py: its folder has no __init__.py",
    ]
