"""scripts/bench_ui.py --review: the generated review corpus is what `curate review` should find."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from curate.reviewing import ReviewDesk
from curate.store import Corpus

SCRIPT = Path(__file__).parents[2] / "scripts" / "bench_ui.py"


def load_bench_ui():
    spec = importlib.util.spec_from_file_location("bench_ui_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_review_corpus_has_one_disagreement_in_fifty_and_the_rest_merges(tmp_path):
    bench_ui = load_bench_ui()
    folder = bench_ui.review_corpus(tmp_path, 120)
    assert bench_ui.review_corpus(tmp_path, 120) == folder  # made once, then reused
    with Corpus.open(folder) as corpus:
        desk = ReviewDesk(corpus, "judge")
        try:
            assert desk.queue == [0, 50, 100]  # s0000000, s0000050, s0000100: ana ORG, ben PERSON
            assert desk.auto_accepted == 117
            record = desk.current().session.record
            assert record.snippet_id == "s0000000"
        finally:
            desk.journal.close()
