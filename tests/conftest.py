"""Fixtures shared by test modules.

Helpers that are not fixtures live in plain modules next to this file (app_run, annotate_run,
review_corpora, export_fixtures, import_checks, disk_faults); pyproject's `pythonpath = ["tests"]`
lets tests in tests/unit/ and tests/functional/ import them too. Test modules never import
each other (tests/unit/test_import_hygiene.py checks).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
from review_corpora import three_annotator_corpus

from curate.store import Corpus

# No test downloads: the Hub clients read these once, when first imported, so they are set here,
# before any test module imports huggingface_hub, transformers or datasets (a module setting them
# itself was too late when an earlier module had imported the client).
for _name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
    os.environ.setdefault(_name, "1")


# Test modules of the optional back ends and the packages they need (the README's Contributors line
# installs them). Without them, on the README's plain install, these modules are not collected and
# the end of the report says so; CI sets CURATE_REQUIRE_EXTRAS=1, where a missing one is an error.
EXTRA_MODULES = {
    "functional/test_suggest_backends.py": ("torch", "transformers", "gliner"),
    "functional/test_suggest_ray.py": ("ray",),
}


def missing_extras() -> dict[str, list[str]]:
    """Test module -> the packages it needs that are not installed."""
    missing = {module: [name for name in names if not installed(name)] for module, names in EXTRA_MODULES.items()}
    return {module: names for module, names in missing.items() if names}


def installed(package: str) -> bool:
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):  # ValueError: a module set to None in sys.modules (blocked)
        return False


_MISSING = missing_extras()
if _MISSING and os.environ.get("CURATE_REQUIRE_EXTRAS") == "1":
    raise pytest.UsageError(
        "CURATE_REQUIRE_EXTRAS=1 but these test modules lack their packages: "
        + "; ".join(f"{module} needs {', '.join(names)}" for module, names in sorted(_MISSING.items()))
    )
collect_ignore = sorted(_MISSING)


def pytest_terminal_summary(terminalreporter) -> None:
    for module, names in sorted(_MISSING.items()):
        terminalreporter.write_line(f"not collected (optional back ends not installed): {module} needs {', '.join(names)}; the README's Contributors line installs them")


@pytest.fixture
def news_corpus(tmp_path) -> Path:
    """The folder of a corpus of three news snippets (annotate_run.SNIPPETS), nobody's annotations yet."""
    from annotate_run import SNIPPETS, write_corpus  # here, so that a session without UI tests never imports Textual

    return write_corpus(tmp_path, SNIPPETS)


@pytest.fixture
def review_corpus(tmp_path) -> Corpus:
    """Three annotators on four copies of one text: s1 all agree, s2 one label differs, s3 much differs, s4 ana alone."""
    return three_annotator_corpus(tmp_path)
