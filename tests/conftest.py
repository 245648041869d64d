"""Fixtures shared by test modules.

Helpers that are not fixtures live in plain modules next to this file (app_run, annotate_run,
review_corpora, export_fixtures, import_checks, disk_faults); pyproject's `pythonpath = ["tests"]`
lets tests in tests/unit/ and tests/functional/ import them too. Test modules never import
each other (tests/unit/test_import_hygiene.py checks).
"""

from __future__ import annotations

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


@pytest.fixture
def news_corpus(tmp_path) -> Path:
    """The folder of a corpus of three news snippets (annotate_run.SNIPPETS), nobody's annotations yet."""
    from annotate_run import SNIPPETS, write_corpus  # here, so that a session without UI tests never imports Textual

    return write_corpus(tmp_path, SNIPPETS)


@pytest.fixture
def review_corpus(tmp_path) -> Corpus:
    """Three annotators on four copies of one text: s1 all agree, s2 one label differs, s3 much differs, s4 ana alone."""
    return three_annotator_corpus(tmp_path)
