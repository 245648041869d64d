"""The Hugging Face dataset folder: `stories` and `snippets` parquet files per split, and the card.

Layout (what `datasets.load_dataset(OUT, "stories")` reads through the card's `configs`)::

    OUT/README.md
    OUT/data/stories/<split>-00000-of-00001.parquet
    OUT/data/snippets/<split>-00000-of-00001.parquet

Rows are written in batches with pyarrow under the `datasets` features' own Arrow schema (it
carries the features in its metadata), so memory stays flat however large the corpus is.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from datasets import ClassLabel, Features, List, Value

from curate.export.context import ExportContext
from curate.export.rows import StoryRow, snippet_row
from curate.model import Annotation, Snippet

STORIES = "stories"
SNIPPETS = "snippets"
CONFIGS = (STORIES, SNIPPETS)
BATCH_ROWS = 8192
NO_BOILERPLATE = "none"


def data_file(config: str, split: str) -> str:
    """The path of one config's split inside the dataset folder."""
    return f"data/{config}/{split}-00000-of-00001.parquet"


def _entity_feature() -> dict:
    return {"start": Value("int32"), "end": Value("int32"), "label": Value("string"), "text": Value("string")}


def story_features(tag_names: list[str]) -> Features:
    return Features(
        {
            "id": Value("string"),
            "snippet_id": Value("string"),
            "text": Value("string"),
            "tokens": List(Value("string")),
            "ner_tags": List(ClassLabel(names=tag_names)),
            "entities": List(_entity_feature()),
            "truncated": Value("bool"),
        }
    )


def paragraph_kinds(boilerplate_kinds: list[str]) -> list[str]:
    return [NO_BOILERPLATE] + [kind for kind in boilerplate_kinds if kind != NO_BOILERPLATE]


def snippet_features(boilerplate_kinds: list[str]) -> Features:
    return Features(
        {
            "id": Value("string"),
            "text": Value("string"),
            "stories": List({"start": Value("int32"), "end": Value("int32"), "truncated": Value("bool")}),
            "boilerplate": List({"start": Value("int32"), "end": Value("int32"), "kind": Value("string")}),
            "entities": List(_entity_feature()),
            "paragraphs": List(
                {
                    "start": Value("int32"),
                    "end": Value("int32"),
                    "story": Value("int32"),
                    "story_start": Value("int8"),
                    "boilerplate": ClassLabel(names=paragraph_kinds(boilerplate_kinds)),
                }
            ),
        }
    )


def parquet_options(features: Features) -> dict:
    """The ParquetWriter options `datasets` itself uses for Hub uploads (content-defined
    chunking, page index, per-column dictionary and compression), where this version has them."""
    try:
        from datasets import config
        from datasets.arrow_writer import get_parquet_column_options
    except ImportError:
        return {}
    options = dict(get_parquet_column_options(features, features.arrow_schema))
    if getattr(config, "DEFAULT_CDC_OPTIONS", None):
        options["use_content_defined_chunking"] = config.DEFAULT_CDC_OPTIONS
        options["write_page_index"] = True
    return options


class _RowColumns:
    """Rows as Python lists per column, turned into a table by pyarrow (for the snippets config)."""

    def __init__(self, features: Features) -> None:
        self.schema = features.arrow_schema
        self.columns: dict[str, list] = {name: [] for name in features}

    def __len__(self) -> int:
        return len(self.columns["id"])

    def add(self, row: dict) -> None:
        for name, values in self.columns.items():
            values.append(row[name])

    def table(self) -> pa.Table:
        return pa.Table.from_pydict(self.columns, schema=self.schema)

    def clear(self) -> None:
        for values in self.columns.values():
            values.clear()


def _concatenated_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The indexes start, start+1, ... start+length-1 of every range, one after another."""
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    before = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return np.arange(total, dtype=np.int64) + np.repeat(starts - before, lengths)


def _list_offsets(counts: list[int]) -> pa.Array:
    return pa.array(np.concatenate([[0], np.cumsum(np.asarray(counts, dtype=np.int64))]).astype(np.int32), pa.int32())


class _StoryColumns:
    """Story rows kept as few Python objects as possible and turned into Arrow arrays with numpy.

    Per story only its tokens joined by spaces are built in Python (tokens never hold a
    space); splitting them, the IOB2 tags and the list columns are computed a batch at a time.
    """

    def __init__(self, features: Features, label_ids: dict[str, int]) -> None:
        self.schema = features.arrow_schema
        self.label_ids = label_ids
        self.clear()

    def clear(self) -> None:
        self.ids: list[str] = []
        self.snippet_ids: list[str] = []
        self.texts: list[str] = []
        self.truncated: list[bool] = []
        self.joined_tokens: list[str] = []
        self.token_counts: list[int] = []
        self.entity_counts: list[int] = []
        self.entity_starts: list[int] = []
        self.entity_ends: list[int] = []
        self.entity_labels: list[str] = []
        self.entity_texts: list[str] = []
        self.entity_first_tokens: list[int] = []
        self.entity_token_counts: list[int] = []

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, story: StoryRow) -> None:
        text = story.text
        self.ids.append(story.id)
        self.snippet_ids.append(story.snippet_id)
        self.texts.append(text)
        self.truncated.append(story.truncated)
        self.joined_tokens.append(" ".join([text[start:end] for start, end in story.tokens]))
        self.token_counts.append(len(story.tokens))
        self.entity_counts.append(len(story.entities))
        for (start, end, label), (first, after) in zip(story.entities, story.entity_tokens):
            self.entity_starts.append(start)
            self.entity_ends.append(end)
            self.entity_labels.append(label)
            self.entity_texts.append(text[start:end])
            self.entity_first_tokens.append(first)
            self.entity_token_counts.append(after - first)

    def _tokens(self) -> pa.Array:
        joined = pa.array(self.joined_tokens, pa.string())
        offsets = np.frombuffer(joined.buffers()[1], dtype=np.int32, count=len(joined) + 1)
        values = np.frombuffer(joined.buffers()[2], dtype=np.uint8, count=int(offsets[-1])) if offsets[-1] else np.zeros(0, np.uint8)
        is_space = values == 32
        spaces_before = np.zeros(len(values) + 1, dtype=np.int32)
        np.cumsum(is_space.view(np.uint8), dtype=np.int32, out=spaces_before[1:])
        # A token ends at every separator and at the end of every story that has tokens.
        token_end = np.zeros(len(values) + 1, dtype=bool)
        token_end[:-1] = is_space
        token_end[offsets[1:][np.asarray(self.token_counts) > 0]] = True
        ends = np.flatnonzero(token_end)
        ends -= spaces_before[ends]
        token_offsets = np.concatenate([[0], ends]).astype(np.int32)
        strings = pa.StringArray.from_buffers(len(ends), pa.py_buffer(token_offsets), pa.py_buffer(np.ascontiguousarray(values[~is_space])))
        return pa.ListArray.from_arrays(_list_offsets(self.token_counts), strings)

    def _ner_tags(self) -> pa.Array:
        counts = np.asarray(self.token_counts, dtype=np.int64)
        tags = np.zeros(int(counts.sum()), dtype=np.int64)
        if self.entity_starts:
            story_base = np.concatenate([[0], np.cumsum(counts)[:-1]])
            first = np.repeat(story_base, np.asarray(self.entity_counts, dtype=np.int64)) + np.asarray(self.entity_first_tokens, dtype=np.int64)
            label_ids = self.label_ids
            labels = np.fromiter((label_ids[label] for label in self.entity_labels), dtype=np.int64, count=len(self.entity_labels))
            tags[first] = 2 * labels + 1
            inside = np.asarray(self.entity_token_counts, dtype=np.int64) - 1
            tags[_concatenated_ranges(first + 1, inside)] = np.repeat(2 * labels + 2, inside)
        return pa.ListArray.from_arrays(_list_offsets(self.token_counts), pa.array(tags, pa.int64()))

    def _entities(self) -> pa.Array:
        struct = pa.StructArray.from_arrays(
            [
                pa.array(self.entity_starts, pa.int32()),
                pa.array(self.entity_ends, pa.int32()),
                pa.array(self.entity_labels, pa.string()),
                pa.array(self.entity_texts, pa.string()),
            ],
            names=["start", "end", "label", "text"],
        )
        return pa.ListArray.from_arrays(_list_offsets(self.entity_counts), struct)

    def table(self) -> pa.Table:
        arrays = [
            pa.array(self.ids, pa.string()),
            pa.array(self.snippet_ids, pa.string()),
            pa.array(self.texts, pa.string()),
            self._tokens(),
            self._ner_tags(),
            self._entities(),
            pa.array(self.truncated, pa.bool_()),
        ]
        return pa.Table.from_arrays(arrays, schema=self.schema)


class _SplitFiles:
    """One parquet file per split, written in batches."""

    def __init__(self, folder: Path, config: str, features: Features, make_columns) -> None:
        self.folder = folder
        self.config = config
        self.schema = features.arrow_schema
        self.options = parquet_options(features)
        self.make_columns = make_columns
        self.buffers: dict[str, object] = {}
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.rows: dict[str, int] = {}

    def buffer(self, split: str):
        columns = self.buffers.get(split)
        if columns is None:
            columns = self.buffers[split] = self.make_columns()
            self.rows.setdefault(split, 0)
        return columns

    def added(self, split: str, count: int) -> None:
        self.rows[split] += count
        if len(self.buffers[split]) >= BATCH_ROWS:
            self.flush(split)

    def flush(self, split: str) -> None:
        columns = self.buffers.get(split)
        if columns is None or not len(columns):
            return
        table = columns.table()
        writer = self.writers.get(split)
        if writer is None:
            path = self.folder / data_file(self.config, split)
            path.parent.mkdir(parents=True, exist_ok=True)
            writer = self.writers[split] = pq.ParquetWriter(path, self.schema, **self.options)
        writer.write_table(table, row_group_size=BATCH_ROWS)
        columns.clear()

    def close(self) -> None:
        for split in list(self.buffers):
            self.flush(split)
        for writer in self.writers.values():
            writer.close()


class Writer:
    """Writes the `stories` and `snippets` configs; the card is written by :meth:`finish`."""

    def __init__(self, folder: Path, context: ExportContext) -> None:
        self.folder = folder
        self.context = context
        self.tag_names = context.tag_names
        self.label_ids = {label: index for index, label in enumerate(context.labels)}
        self.features = {STORIES: story_features(self.tag_names), SNIPPETS: snippet_features(context.config.boilerplate_kinds)}
        self.files = {
            STORIES: _SplitFiles(folder, STORIES, self.features[STORIES], lambda: _StoryColumns(self.features[STORIES], self.label_ids)),
            SNIPPETS: _SplitFiles(folder, SNIPPETS, self.features[SNIPPETS], lambda: _RowColumns(self.features[SNIPPETS])),
        }
        self.paragraph_kind_ids = {kind: index for index, kind in enumerate(paragraph_kinds(context.config.boilerplate_kinds))}

    def add(self, split: str, snippet: Snippet, record: Annotation, stories: list[StoryRow]) -> None:
        self.add_stories(split, stories)
        files = self.files[SNIPPETS]
        row = snippet_row(snippet, record)
        for paragraph in row["paragraphs"]:
            paragraph["boilerplate"] = self.paragraph_kind_ids[paragraph["boilerplate"]]
        files.buffer(split).add(row)
        files.added(split, 1)

    def add_stories(self, split: str, stories: list[StoryRow]) -> None:
        """Append story rows (also used alone by the benchmark)."""
        files = self.files[STORIES]
        columns = files.buffer(split)
        for story in stories:
            columns.add(story)
        files.added(split, len(stories))

    def finish(self) -> list[Path]:
        from curate.export.card import dataset_card

        for files in self.files.values():
            files.close()
        splits = {name: {split: count for split, count in files.rows.items() if count} for name, files in self.files.items()}
        card = dataset_card(self.context, self.features, splits, self.folder)
        (self.folder / "README.md").write_text(card, encoding="utf-8")
        return sorted(path for path in self.folder.rglob("*") if path.is_file())
