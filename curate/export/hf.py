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

import pyarrow as pa
import pyarrow.parquet as pq
from datasets import ClassLabel, Features, List, Value

from curate.export.context import ExportContext
from curate.export.rows import StoryRow, iob2_tags, snippet_row
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


class _SplitFiles:
    """One parquet file per split, written in batches of columns."""

    def __init__(self, folder: Path, config: str, features: Features) -> None:
        self.folder = folder
        self.config = config
        self.schema = features.arrow_schema
        self.columns = list(features)
        self.buffers: dict[str, dict[str, list]] = {}
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.rows: dict[str, int] = {}

    def buffer(self, split: str) -> dict[str, list]:
        columns = self.buffers.get(split)
        if columns is None:
            columns = self.buffers[split] = {name: [] for name in self.columns}
            self.rows.setdefault(split, 0)
        return columns

    def added(self, split: str, count: int) -> None:
        self.rows[split] += count
        if len(self.buffers[split]["id"]) >= BATCH_ROWS:
            self.flush(split)

    def flush(self, split: str) -> None:
        columns = self.buffers.get(split)
        if not columns or not columns["id"]:
            return
        table = pa.Table.from_pydict(columns, schema=self.schema)
        writer = self.writers.get(split)
        if writer is None:
            path = self.folder / data_file(self.config, split)
            path.parent.mkdir(parents=True, exist_ok=True)
            writer = self.writers[split] = pq.ParquetWriter(path, self.schema)
        writer.write_table(table, row_group_size=BATCH_ROWS)
        for values in columns.values():
            values.clear()

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
        self.files = {name: _SplitFiles(folder, name, features) for name, features in self.features.items()}
        self.paragraph_kind_ids = {kind: index for index, kind in enumerate(paragraph_kinds(context.config.boilerplate_kinds))}

    def add(self, split: str, snippet: Snippet, record: Annotation, stories: list[StoryRow]) -> None:
        self.add_stories(split, stories)
        files = self.files[SNIPPETS]
        columns = files.buffer(split)
        row = snippet_row(snippet, record)
        for paragraph in row["paragraphs"]:
            paragraph["boilerplate"] = self.paragraph_kind_ids[paragraph["boilerplate"]]
        for name in files.columns:
            columns[name].append(row[name])
        files.added(split, 1)

    def add_stories(self, split: str, stories: list[StoryRow]) -> None:
        """Append story rows (also used alone by the benchmark)."""
        files = self.files[STORIES]
        columns = files.buffer(split)
        label_ids = self.label_ids
        for story in stories:
            text = story.text
            columns["id"].append(story.id)
            columns["snippet_id"].append(story.snippet_id)
            columns["text"].append(text)
            columns["tokens"].append([text[start:end] for start, end in story.tokens])
            columns["ner_tags"].append(iob2_tags(story.tokens, story.entities, label_ids))
            columns["entities"].append(
                [{"start": start, "end": end, "label": label, "text": text[start:end]} for start, end, label in story.entities]
            )
            columns["truncated"].append(story.truncated)
        files.added(split, len(stories))

    def finish(self) -> list[Path]:
        from curate.export.card import dataset_card

        for files in self.files.values():
            files.close()
        splits = {name: {split: count for split, count in files.rows.items() if count} for name, files in self.files.items()}
        card = dataset_card(self.context, self.features, splits, self.folder)
        (self.folder / "README.md").write_text(card, encoding="utf-8")
        return sorted(path for path in self.folder.rglob("*") if path.is_file())
