"""The card's counts added up a batch at a time with numpy equal them added record by record."""

from __future__ import annotations

from tricky_texts import tricky_pages

from curate.export.context import ExportCounts
from curate.export.rows import story_batch, story_rows
from curate.model import GoldAnnotation


def test_batch_counts_equal_counts_record_by_record():
    pages = tricky_pages() * 3
    # Some records with sources (gold), some without (an annotator's): both are counted.
    pages = [(snippet, GoldAnnotation(**record.model_dump(), sources=["ann", f"b{number % 2}"], adjudicator="c") if number % 3 else record) for number, (snippet, record) in enumerate(pages)]
    splits = [("train", "test", "validation", "train")[number % 4] for number in range(len(pages))]
    by_record = ExportCounts()
    for split, (snippet, record) in zip(splits, pages):
        by_record.add(split, record, story_rows(snippet, record))
    by_batch = ExportCounts()
    for start in range(0, len(pages), 7):
        by_batch.add_batch(splits[start : start + 7], story_batch(pages[start : start + 7]))
    assert sum(by_record.truncated.values()) > 0 and sum(by_record.boilerplate.values()) > 0
    for name in ("snippets", "stories", "truncated", "boilerplate", "sources"):
        assert getattr(by_batch, name) == getattr(by_record, name), name
        assert all(type(value) is int for value in getattr(by_batch, name).values()), name
    assert {split: dict(counter) for split, counter in by_batch.entities.items()} == {split: dict(counter) for split, counter in by_record.entities.items()}
