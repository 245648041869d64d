"""Checks shared by the import tests: every successful import writes only records `curate validate` accepts."""

from __future__ import annotations

from pathlib import Path

from curate import importing as imports
from curate.store import Corpus
from curate.validate import validate_file

_real_import = imports.import_annotations


def journal_problems(corpus_dir: Path | str, journal: Path) -> list[str]:
    """What `curate validate --corpus` says about the journal an import wrote."""
    with Corpus.open(corpus_dir) as corpus:
        return list(validate_file(Path(journal), corpus))


def validated_import(file, fmt, corpus_dir, annotator, **options):
    """`import_annotations`, then the written journal validated against the corpus: no problems."""
    report = _real_import(file, fmt, corpus_dir, annotator, **options)
    assert journal_problems(corpus_dir, report.journal) == []
    return report
