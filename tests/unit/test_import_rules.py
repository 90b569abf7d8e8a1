"""The arrows between layers that must never exist (docs/ARCHITECTURE.md, "Layers").

Every import in pipeline/ and operators/ is read from the source with `ast`, at module level
and inside functions alike, relative imports resolved, and checked against RULES.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("pipeline", "operators")

MEDIA = ("pipeline.media",)  # the media layer (PyAV), a package
EVERYTHING = ("pipeline", "operators")


@dataclass(frozen=True)
class Rule:
    """Modules under any of `layer` never import a module under any of `forbidden`."""

    name: str
    layer: tuple[str, ...]
    forbidden: tuple[str, ...]
    allowed: tuple[str, ...] = ()  # imports the rule lets through (inside `forbidden`)
    except_in: tuple[str, ...] = ()  # modules the rule does not cover


RULES = (
    Rule(
        "the API never imports Ray or the runtime", ("pipeline.api",), ("ray", "pipeline.runtime")
    ),
    Rule(
        "operators never import the API, store, storage, Ray, HTTP or database clients",
        ("operators",),
        (
            "pipeline.api",
            "pipeline.store",
            "pipeline.storage",
            "pipeline.runtime",
            "ray",
            "fastapi",
            "starlette",
            "boto3",
            "botocore",
            "psycopg",
            "psycopg_pool",
            "sqlite3",
            "httpx",
        ),
    ),
    Rule("the media layer never imports operators", MEDIA, ("operators",)),
    Rule(
        "the client imports no server part",
        ("pipeline.client",),
        EVERYTHING,
        allowed=("pipeline.contract",),
    ),
    Rule("the store never imports the API", ("pipeline.store",), ("pipeline.api",)),
    Rule("the storage never imports the API", ("pipeline.storage",), ("pipeline.api",)),
    Rule("only the runtime imports Ray", EVERYTHING, ("ray",), except_in=("pipeline.runtime",)),
    Rule(
        "the contract sits below every layer",
        ("pipeline.contract",),
        EVERYTHING,
    ),
)


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the imported module, absolute
    where: str  # path:line


def under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, root: Path) -> list[Import]:
    module = module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        where = f"{path.relative_to(root)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            found += [Import(module, alias.name, where) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: climb from this module's package
                parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parent, base] if base else parent)
            # `from pipeline import contract` imports pipeline.contract: check each name too.
            found.append(Import(module, base, where))
            found += [Import(module, f"{base}.{alias.name}", where) for alias in node.names]
        elif isinstance(node, ast.Call) and _is_dynamic_import(node):
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.append(Import(module, arg.value, where))
    return found


def _is_dynamic_import(node: ast.Call) -> bool:
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name in {"import_module", "__import__"} and bool(node.args)


def violations(root: Path, rules: tuple[Rule, ...] = RULES) -> list[str]:
    broken: dict[tuple[str, str], str] = {}  # (path:line, rule) -> the first target found
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            for imp in imports_of(path, root):
                for rule in rules:
                    if not under(imp.module, rule.layer) or under(imp.module, rule.except_in):
                        continue
                    allowed = (*rule.layer, *rule.allowed)
                    if under(imp.target, rule.forbidden) and not under(imp.target, allowed):
                        broken.setdefault((imp.where, rule.name), imp.target)
    return sorted(f"{where}: imports {target}: {rule}" for (where, rule), target in broken.items())


def test_no_forbidden_arrows_in_the_tree() -> None:
    broken = violations(ROOT)
    assert not broken, "\n".join(broken)


def circles(root: Path, package: str) -> list[list[str]]:
    """Import cycles among the modules of `package` (imports inside functions count too:
    a deferred import that hides a circle is still a circle)."""
    folder = root / package.replace(".", "/")
    modules = {module_name(p, root): p for p in folder.rglob("*.py")}
    edges = {
        name: {i.target for i in imports_of(path, root) if i.target in modules and i.target != name}
        for name, path in modules.items()
    }
    found: list[list[str]] = []

    def walk(name: str, trail: list[str]) -> None:
        for target in sorted(edges[name]):
            if target in trail:
                found.append([*trail[trail.index(target) :], target])
            elif len(trail) < len(modules):
                walk(target, [*trail, target])

    for start in sorted(modules):
        walk(start, [start])
    return found


def test_the_media_package_has_no_import_circle() -> None:
    found = circles(ROOT, "pipeline.media")
    assert not found, "\n".join(" -> ".join(c) for c in found)


def test_the_circle_check_can_fail(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "pipeline/media/__init__.py": "",
            "pipeline/media/file.py": "from pipeline.media.transcode import encode\n",
            "pipeline/media/transcode.py": "def f():\n    from pipeline.media import file\n",
        },
    )
    assert ["pipeline.media.file", "pipeline.media.transcode", "pipeline.media.file"] in circles(
        root, "pipeline.media"
    )


# The checker itself, on small trees built here: each rule must be able to fail.


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for package in PACKAGES:
        (tmp_path / package).mkdir(exist_ok=True)
    return tmp_path


@pytest.mark.parametrize(
    ("name", "text", "rule"),
    [
        ("pipeline/api/routes.py", "import ray\n", "the API never imports Ray"),
        (
            "pipeline/api/routes.py",
            "def f():\n    from pipeline.runtime.ray_pool import start_ray\n",
            "the API never imports Ray",
        ),
        ("operators/video.py", "from pipeline.store import Store\n", "operators never import"),
        ("operators/video.py", "import boto3.session\n", "operators never import"),
        ("pipeline/media/transcode.py", "from operators.base import Operator\n", "media layer"),
        ("pipeline/media/decode.py", "from ..media import x\nimport operators\n", "media layer"),
        ("pipeline/store/sql.py", "from ..api import errors\n", "store never imports the API"),
        (
            "pipeline/cli.py",
            "import importlib\nimportlib.import_module('ray')\n",
            "only the runtime",
        ),
        ("pipeline/contract/errors.py", "from pipeline.config import Settings\n", "contract"),
        ("pipeline/contract/errors.py", "from pipeline import store\n", "contract"),
        ("pipeline/client/http.py", "from pipeline.store import Store\n", "the client"),
    ],
)
def test_the_checker_finds_each_forbidden_arrow(
    tmp_path: Path, name: str, text: str, rule: str
) -> None:
    broken = violations(_tree(tmp_path, {name: text}))
    assert broken and all(name in line for line in broken)
    assert any(rule in line for line in broken), broken


def test_the_checker_allows_the_arrows_that_may_exist(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "pipeline/runtime/ray_pool.py": "import ray\nfrom operators.base import Operator\n",
            "pipeline/api/app.py": "from pipeline.store import Store\nimport fastapi\n",
            "operators/video.py": "from pipeline.contract.errors import TaskError\nimport numpy\n",
            "pipeline/media/file.py": "from pipeline.contract import plans\nfrom . import decode\n",
            "pipeline/contract/errors.py": "from pipeline.contract.media import MediaInfo\n",
            "pipeline/client/batch.py": "from pipeline.contract.errors import INTERNAL\n",
        },
    )
    assert violations(root) == []
