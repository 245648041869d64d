"""The fast paths of the Hugging Face export give exactly what the plain paths give.

`text_tokens` (one regex pass over texts without format characters, marks or astral
characters) against `TextModel(text).tokens`; the columnar story writer (token and entity
strings cut from the UTF-8 text column, IOB2 tags with numpy, parquet written in a second
thread) against rows built one by one from `StoryRow.tokens` and `iob2_tags`.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from dataclasses import replace
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tricky_texts import NBSP, PLAIN, SPECIAL, ZWJ, ZWSP, tricky_pages

from curate.export.context import ExportContext
from curate.export.rows import iob2_tags, story_batch, story_rows
from curate.formats.hf import STORIES, Writer, data_file
from curate.model import CorpusConfig
from curate.text import TextModel, _special_pattern, text_tokens


@pytest.mark.parametrize("text", PLAIN + SPECIAL)
def test_fast_tokens_equal_the_text_model_tokens_on_tricky_unicode(text):
    assert text_tokens(text) == TextModel(text).tokens


def test_the_fast_path_is_taken_exactly_for_texts_without_special_characters():
    assert all(_special_pattern().search(text) is None for text in PLAIN)
    assert all(_special_pattern().search(text) is not None for text in SPECIAL)


TRICKY = st.sampled_from(
    list("aZ9 .,:/!?\"'()-_\n\r\t") + ["\r\n", NBSP, ZWSP, ZWJ, "\ufeff", "\u00ad", "\u2060", "\u200c", "\u2028", "\u2029",
    "\u2019", "\u2018", "\u201c", "\u201d", "\u2010", "\u2011", "\u2014", "\u2026", "\u0301", "\ufe0f", "\u20e3", "\U0001F3FD",
    "\U0001F1EC", "\U0001F1E7", "\U0001F600", "\U000E0067", "\U000E007F", "\u00e9", "\u00df", "\u0663", "\u4e2d", "\u3000",
    "\x1c", "U.S.", "Jong-un", "1,703", "10:30", "'s", "\u2019re"]
)


@given(st.lists(TRICKY, max_size=60).map("".join))
@settings(max_examples=500, deadline=None)
def test_fast_tokens_equal_the_text_model_tokens_on_generated_text(text):
    assert text_tokens(text) == TextModel(text).tokens


PLAIN_PIECES = st.sampled_from(
    list("aZ9 .,:/!?\"'()-_\n\r\t") + ["\r\n", NBSP, "\u2028", "\u2019", "\u201c", "\u201d", "\u2010", "\u2011", "\u2014",
    "\u00e9", "\u4e2d", "\u3000", "\x1c", "U.S.", "Jong-un", "1,703", "'s", "\u2019re", "e.g."]
)


@given(st.lists(PLAIN_PIECES, max_size=60).map("".join))
@settings(max_examples=500, deadline=None)
def test_fast_tokens_equal_the_text_model_tokens_on_generated_plain_text(text):
    assert _special_pattern().search(text) is None
    assert text_tokens(text) == TextModel(text).tokens


# ---------------------------------------------------------------- the columnar story writer


def written_rows(folder: Path, pages_per_call) -> list[dict]:
    """The story rows the writer writes, handed the pages in these batches."""
    config = CorpusConfig(name="t")
    writer = Writer(folder, ExportContext(config, folder, "gold", {"train": 1.0}))
    for pages in pages_per_call:
        writer.add_batch(["train"] * len(pages), story_batch(pages))
    writer.files[STORIES].close()
    return pq.read_table(folder / data_file(STORIES, "train")).to_pylist()


def expected_rows(stories, labels: list[str]) -> list[dict]:
    """Each row the plain way: token strings sliced from `tokens`, tags from `iob2_tags`."""
    label_ids = {label: index for index, label in enumerate(labels)}
    return [
        {
            "id": story.id,
            "snippet_id": story.snippet_id,
            "text": story.text,
            "tokens": [story.text[start:end] for start, end in story.tokens],
            "ner_tags": iob2_tags(story.tokens, story.entities, label_ids),
            "entities": [{"start": start, "end": end, "label": label, "text": story.text[start:end]} for start, end, label in story.entities],
            "truncated": story.truncated,
        }
        for story in stories
    ]


@pytest.mark.parametrize("together", [1, 4, 100])
def test_story_writer_matches_rows_built_one_by_one(tmp_path, together):
    pages = tricky_pages()
    stories = [story for snippet, record in pages for story in story_rows(snippet, record)]
    assert any(not story.tokens for story in stories)  # a story of only a zero-width space
    assert any(story.text.isascii() for story in stories) and any(not story.text.isascii() for story in stories)
    assert any(b - a > 1 for story in stories for a, b in story.entity_tokens)
    labels = CorpusConfig(name="t").label_names
    batches = [pages[start : start + together] for start in range(0, len(pages), together)]
    assert written_rows(tmp_path / "columns", batches) == expected_rows(stories, labels)



def test_offset_arrays_follow_the_tokens_and_entities_of_a_row():
    (story, *_), *_ = [story_rows(snippet, record) for snippet, record in tricky_pages()[1:]]
    assert story.token_offsets.tolist() == [list(token) for token in story.tokens]
    assert story.entity_offsets.tolist() == [[start, end, first, after] for (start, end, _), (first, after) in zip(story.entities, story.entity_tokens)]
    fewer = replace(story, tokens=story.tokens[:2], entities=[], entity_tokens=[])
    assert fewer.token_offsets.tolist() == [list(token) for token in story.tokens[:2]]
    assert fewer.entity_offsets.shape == (0, 4)


def test_story_writer_across_batches(tmp_path, monkeypatch):
    import curate.formats.hf as hf

    monkeypatch.setattr(hf, "BATCH_ROWS", 4)
    pages = tricky_pages() * 3
    stories = [story for snippet, record in pages for story in story_rows(snippet, record)]
    rows = written_rows(tmp_path, [pages[start : start + 5] for start in range(0, len(pages), 5)])
    assert rows == expected_rows(stories, CorpusConfig(name="t").label_names)
    assert pq.ParquetFile(tmp_path / data_file(STORIES, "train")).metadata.num_row_groups > 3


def test_a_failed_parquet_write_is_raised_by_close(tmp_path, monkeypatch):
    import pyarrow.parquet as parquet

    def fail(self, table, row_group_size=None):
        raise OSError("disk full")

    monkeypatch.setattr(parquet.ParquetWriter, "write_table", fail)
    with pytest.raises(OSError, match="disk full"):
        written_rows(tmp_path, [tricky_pages()])
