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

from curate.export.context import ExportContext
from curate.export.rows import iob2_tags, story_batch, story_rows
from curate.formats.hf import STORIES, Writer, data_file
from curate.model import Annotation, BoilerplateRange, CorpusConfig, Entity, Snippet, Story
from curate.text import TextModel, _special_pattern, text_tokens

NBSP = "\u00a0"
ZWSP = "\u200b"
ZWJ = "\u200d"
FAMILY = "\U0001F468\u200d\U0001F469\u200d\U0001F467"
THUMBS = "\U0001F44D\U0001F3FD"
FLAG = "\U0001F1EC\U0001F1E7"
ENGLAND = "\U0001F3F4\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F"

# Texts the fast path takes: CRLF, NBSP, curly quotes, dashes, accents, ideographic space, U+2028.
PLAIN = [
    f"\u201cWe\u2019re close,\u201d said Kim{NBSP}Jong-un \u2014 at 10:30 \u2013 U.S. shares rose 2.5%.\r\n\r\n  Next\u2019s line\u2026",
    "Ana Mar\u00eda N\u00fa\u00f1ez\u3000in S\u00e3o Paulo\u2028said \u2018no\u2019 \u2010 twice\u2011over, 1,703 times.\r\n",
    "Plain ASCII: O'Brien's U.S.A. trip, 9km/h, e-mail -- done.\n\n\tTabbed line \x1c after a separator",
]
# Texts that need the full tokenizer: zero-width characters, ZWJ emoji, skin tones, flags, marks, BOM.
SPECIAL = [
    f"{FAMILY} and {THUMBS} {FLAG} zero{ZWSP}width \ufeffBOM {ZWJ} end\r\n{ENGLAND}",
    "Jose\u0301 Marti\u0301nez of Ver\u00adwaltung \u2060joined\u200c\r\n\u200b\r\nlast 1\ufe0f\u20e3",
    f"\u201cQuote\u201d{ZWSP}\u2019s{NBSP}\u00e9\u0301t\u00e9 \U0001F600!",
]


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


def tricky_pages() -> list[tuple[Snippet, Annotation]]:
    """Pages of two or three stories over the tricky texts, entities on words, a credit line."""
    pages = []
    texts = PLAIN + SPECIAL + ["ASCII only story.\nSecond ASCII story with Kim.\n", f"Hello there\n{ZWSP}\n", "Ünïcode \U0001F600 story\nand more"]
    for number, text in enumerate(texts):
        text = f"Photo: AP{NBSP}Kim\n" + text if number % 2 else text
        model = TextModel(text)
        starts = [paragraph.line_start for paragraph in model.paragraphs]
        cuts = [0] + starts[1:3]
        stories = [Story(start=start, end=end, truncated=index == 1) for index, (start, end) in enumerate(zip(cuts, cuts[1:] + [len(text)]))]
        boilerplate = []
        if text.startswith("Photo:"):
            boilerplate.append(BoilerplateRange(start=0, end=text.index("\n"), kind="credit"))
        words = [(start, end) for start, end in model.tokens if text[start:end][0].isalpha()]
        entities = [Entity(start=start, end=end, label=("PERSON", "GPE", "ORG")[index % 3]) for index, (start, end) in enumerate(words[::3])]
        # One entity over two tokens, where two words follow each other after one space.
        pairs = [(a, b) for a, b in zip(words, words[1:]) if text[a[1] : b[0]] == " " and not any(a[0] < e.end and e.start < b[1] for e in entities)]
        if pairs:
            (start, _), (_, end) = pairs[0]
            entities = sorted(entities + [Entity(start=start, end=end, label="ORG")], key=lambda e: e.start)
        if ZWSP + "\n" in text:  # a last story of only a zero-width space: no tokens
            stories = [Story(start=0, end=text.index(ZWSP), truncated=False), Story(start=text.index(ZWSP), end=len(text), truncated=True)]
        snippet_id = f"tricky-{number}"
        pages.append((Snippet(id=snippet_id, text=text), Annotation(snippet_id=snippet_id, annotator="gold", stories=stories, boilerplate=boilerplate, entities=entities, status="done")))
    return pages


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
