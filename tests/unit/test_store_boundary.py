"""The store's boundary: other code uses only `curate.store`'s public names and never builds a
path of the corpus folder itself (the store's layout names every one)."""

from __future__ import annotations

import ast
from pathlib import Path

import curate.store

ROOT = Path(__file__).resolve().parents[2]
# File and folder names of the corpus folder (see curate/store/layout.py).
CORPUS_NAMES = {
    "corpus.toml", "snippets.jsonl", "suggestions.jsonl", "gold.jsonl", "assignments.jsonl", "annotations", "models", ".curate",
    "story-starts.crfsuite", "entities.crfsuite", "learned.json", "journals", "locks", "review", "places",
    ".gitignore", "uncertainty.npz",
}
FILE_NAMES = {name for name in CORPUS_NAMES if "." in name}


def sources(*folders: str) -> list[Path]:
    return [path for folder in folders for path in sorted((ROOT / folder).rglob("*.py")) if "store" not in path.relative_to(ROOT).parts[:2]]


def store_imports(path: Path) -> list[tuple[int, str, str]]:
    """(line, module, name) of every import from curate.store or one of its modules."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("curate.store"):
            found += [(node.lineno, node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, "") for alias in node.names if alias.name.startswith("curate.store.")]
    return found


def test_code_outside_the_store_imports_only_its_public_names():
    wrong = []
    for path in sources("curate", "scripts"):
        for line, module, name in store_imports(path):
            if module != "curate.store" or name not in curate.store.__all__:
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {module} {name}")
    assert wrong == []


def test_every_public_name_of_the_store_exists():
    assert [name for name in curate.store.__all__ if not hasattr(curate.store, name)] == []


def test_code_outside_the_store_spells_no_path_of_the_corpus_folder():
    wrong = []
    for path in sources("curate", "scripts"):
        nodes = list(ast.walk(ast.parse(path.read_text(), str(path))))
        joins = [node for node in nodes if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and isinstance(node.right, ast.Constant)]
        bench_data = {id(node.right) for node in joins if _joins_bench_data(node)}
        for node in joins:
            if node.right.value in CORPUS_NAMES and id(node.right) not in bench_data:
                wrong.append(f"{path.relative_to(ROOT)}:{node.lineno}: / {node.right.value!r}")
        for node in nodes:
            if isinstance(node, ast.Constant) and node.value in FILE_NAMES and id(node) not in bench_data:
                wrong.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    assert wrong == []


def _joins_bench_data(node: ast.BinOp) -> bool:
    """`bench / "reuters-pages-dev" / "gold.jsonl"`: a file of the shared bench data, not of a corpus."""
    left = node.left
    return isinstance(left, ast.BinOp) and isinstance(left.right, ast.Constant) and left.right.value == "reuters-pages-dev"
