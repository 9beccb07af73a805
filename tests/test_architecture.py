"""The layering of ``docs/architecture`` holds: each layer imports only what it may."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "flowker"

#: module prefix -> packages (by path below flowker/) allowed to import it
ALLOWED = {
    "ray": ("actors/",),
    "sqlite3": ("store/",),
    "pymongo": ("store/",),
    "aiohttp": ("http/", "actors/", "cli.py", "live_cli.py"),
    "flowker.http": ("http/", "cli.py", "bootstrap.py"),
    "flowker.actors": ("actors/", "cli.py", "bootstrap.py"),
    # One composition point (flowker/store/opening.py) chooses and opens the store for everyone.
    "flowker.store.embedded": ("store/",),
    "flowker.store.mongo": ("store/",),
    "motor": ("store/",),
}
#: The pure core imports nothing but the standard library, pydantic and itself.
PURE = ("dsl/", "domain/")
PURE_ALLOWED = (
    "flowker.dsl",
    "flowker.domain",
    "flowker.errors",
    "flowker.codes",
    "flowker.secretbox",
    "flowker.clock",
    "pydantic",
    "cryptography",
    "orjson",
    "rfc8785",
)


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_layer_imports(path: Path) -> None:
    where = path.relative_to(PACKAGE).as_posix()
    for name in _imports(path):
        for prefix, allowed in ALLOWED.items():
            if name == prefix or name.startswith(prefix + "."):
                assert where.startswith(allowed), f"{where} imports {name}; only {allowed} may"
        if where.startswith(PURE):
            top = name.split(".")[0]
            assert top in sys.stdlib_module_names or name.startswith(PURE_ALLOWED), f"{where} imports {name}"


def test_ruff_is_clean() -> None:
    targets = [d for d in ("flowker", "tests", "bench") if (ROOT / d).is_dir()]
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", *targets],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _internal_imports(path: Path, modules: set[str]) -> set[str]:
    """The flowker modules ``path`` imports, anywhere in it (function bodies included).

    ``from package import name`` depends on the module ``package.name`` when there is one, else on
    ``package`` itself.
    """
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in modules else node.module)
    return found & modules


def test_no_import_cycle() -> None:
    modules = {_module_name(path): path for path in MODULES}
    graph = {name: _internal_imports(path, set(modules)) - {name} for name, path in modules.items()}
    cycles: list[list[str]] = []
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for peer in sorted(graph[name]):
            if state.get(peer) == "open":
                cycles.append([*trail[trail.index(peer) :], peer])
            elif peer not in state:
                visit(peer, [*trail, peer])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_a_fast_tier_test_cannot_start_ray() -> None:
    import ray

    with pytest.raises(AssertionError, match="starts Ray"):
        ray.init(address="local")


#: The adapters' own names: outside flowker/store/ the store is a port, whatever adapter is behind it.
ADAPTER_NAMES = {"EmbeddedStore", "MongoStore", "Database", "AsyncMongoClient"}


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_only_the_store_package_names_an_adapter(path: Path) -> None:
    where = path.relative_to(PACKAGE).as_posix()
    if where.startswith("store/"):
        return
    tree = ast.parse(path.read_text(), str(path))
    named = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    named |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    named |= {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    assert not named & ADAPTER_NAMES, f"{where} names {sorted(named & ADAPTER_NAMES)}; only store/ may"
