"""Which code may import what.

Textual belongs to the UI (curate/tui/); rich to the modules that draw on a terminal (the CLI,
the console helpers, the agreement tables) and to the UI, which Textual builds on. The heavy
libraries (spaCy, datasets, pyarrow, crfsuite, the Hub client) are imported only by the commands
that need them, so neither `curate --help` nor opening the annotation or review UI waits for
them. Test modules share helpers through plain modules and tests/conftest.py, never by importing
each other.

The static rules are read from the source by AST (nested imports count too); the start-up rule
is checked in a fresh interpreter, which is the only place sys.modules tells the truth.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

RICH_MODULES = {"curate/cli.py", "curate/console.py", "curate/agreement/render.py"}
# torch and sklearn are not dependencies; were one to come in through another library, this says so
HEAVY = ("spacy", "datasets", "pyarrow", "pycrfsuite", "huggingface_hub", "torch", "sklearn")


def imports_in(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every absolute import in the file, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def library_violations(package: Path) -> list[str]:
    """`path:line: reason` for each textual or rich import outside the modules allowed them."""
    problems = []
    for path in sorted(package.rglob("*.py")):
        where = path.relative_to(package.parent).as_posix()
        in_ui = where.startswith(f"{package.name}/tui/")
        for line, module in imports_in(path):
            top = module.split(".")[0]
            if top == "textual" and not in_ui:
                problems.append(f"{where}:{line}: imports {module}; Textual belongs under {package.name}/tui/")
            elif top == "rich" and not in_ui and where not in RICH_MODULES:
                problems.append(f"{where}:{line}: imports {module}; rich belongs in {', '.join(sorted(RICH_MODULES))} or the UI")
    return problems


def cross_test_imports(tests: Path) -> list[str]:
    """`path:line: reason` for each import of a test module by another module under tests/."""
    problems = []
    for path in sorted(tests.rglob("*.py")):
        for line, module in imports_in(path):
            if any(part.startswith("test_") for part in module.split(".")) or module.split(".")[0] == "tests":
                problems.append(f"{path.relative_to(tests.parent).as_posix()}:{line}: imports the test module {module}")
    return problems



def heavy_modules_after(code: str, *args: str) -> list[str]:
    """The heavy libraries in sys.modules after running `code` in a fresh interpreter."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(name for name in {HEAVY!r} if name in sys.modules)))\n"
    result = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


UI_START = """
import sys
from curate.annotating import AnnotatorDesk
from curate.reviewing import ReviewDesk
from curate.tui.app import AnnotateApp, ReviewApp

desk = AnnotatorDesk.open(sys.argv[1], "ana")
app = AnnotateApp(desk, cursor_blink=False)
app.first_screen()
desk.close()
review = ReviewDesk.open(sys.argv[2], "judge")
app = ReviewApp(review, cursor_blink=False)
app.first_screen()
review.close()
"""


def test_textual_and_rich_are_imported_only_where_they_belong():
    assert library_violations(ROOT / "curate") == []


def test_no_test_module_imports_another():
    assert cross_test_imports(ROOT / "tests") == []


def test_the_cli_imports_no_heavy_library():
    assert heavy_modules_after("import curate.cli") == []


def test_opening_the_annotate_and_review_ui_imports_no_heavy_library(news_corpus, review_corpus):
    review_corpus.close()
    assert heavy_modules_after(UI_START, str(news_corpus), str(review_corpus.path)) == []


# ---------------------------------------------------------------- the checks catch what they are for


def test_the_library_check_names_each_planted_import(tmp_path):
    package = tmp_path / "curate"
    files = {
        "curate/store/leaky.py": "import json\nfrom textual.widgets import Static\n",
        "curate/agreement/metrics.py": "def table():\n    import rich.table\n    return rich.table\n",
        "curate/tui/app.py": "from textual.app import App\nfrom rich.text import Text\n",
        "curate/console.py": "from rich.console import Console\n",
        "curate/agreement/render.py": "from . import metrics\nfrom rich import box\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert [problem.split(";")[0] for problem in library_violations(package)] == [
        "curate/agreement/metrics.py:2: imports rich.table",
        "curate/store/leaky.py:2: imports textual.widgets",
    ]


def test_the_test_module_check_names_each_planted_import(tmp_path):
    tests = tmp_path / "tests"
    (tests / "unit").mkdir(parents=True)
    (tests / "test_a.py").write_text("from review_corpora import TEXT\nimport pytest\n")
    (tests / "unit" / "test_b.py").write_text("def test_x():\n    from test_a import helper\n")
    (tests / "conftest.py").write_text("import tests.test_a\n")
    assert cross_test_imports(tests) == [
        "tests/conftest.py:1: imports the test module tests.test_a",
        "tests/unit/test_b.py:2: imports the test module test_a",
    ]


def test_the_start_up_check_sees_a_heavy_import():
    assert heavy_modules_after("import curate.cli\nimport pyarrow.compute") == ["pyarrow"]
