"""The Hugging Face dataset folder: `stories` and `snippets` parquet files per split, and the card.

Layout (what `datasets.load_dataset(OUT, "stories")` reads through the card's `configs`)::

    OUT/README.md
    OUT/data/stories/<split>-00000-of-00001.parquet
    OUT/data/snippets/<split>-00000-of-00001.parquet

Rows are written in batches with pyarrow under the `datasets` features' own Arrow schema (it
carries the features in its metadata) and the parquet options `Dataset.to_parquet` uses, so
memory stays flat however large the corpus is. A batch of stories becomes Arrow columns without
Python work per token (see `_StoryColumns`), and is written by a second thread while the next
batch is gathered; `scripts/bench_export.py` compares the writer with `Dataset.to_parquet`.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from itertools import chain
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from datasets import ClassLabel, Features, List, Value

from curate.export.context import ExportContext
from curate.export.rows import StoryBatch, paragraph_columns, story_batch
from curate.formats.base import ExportError, safe_child, writing
from curate.formats.base import Writer as BaseWriter
from curate.model import Annotation, Snippet
from curate.text import concatenated_ranges

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


class _SnippetColumns:
    """Snippet rows gathered as (batch, pair indexes) pieces and turned into Arrow arrays a
    batch at a time: stories, boilerplate and entities from the records, paragraph labels
    from :func:`curate.export.rows.paragraph_columns`."""

    def __init__(self, features: Features, kind_ids: dict[str, int]) -> None:
        self.schema = features.arrow_schema
        self.kind_ids = kind_ids
        self.clear()

    def clear(self) -> None:
        self.pairs: list[tuple[Snippet, Annotation]] = []

    def __len__(self) -> int:
        return len(self.pairs)

    def add(self, batch: StoryBatch, pairs: np.ndarray) -> None:
        self.pairs += map(batch.pairs.__getitem__, pairs.tolist())

    def table(self) -> pa.Table:
        pairs = self.pairs
        texts = [snippet.text for snippet, _ in pairs]
        records = [record for _, record in pairs]
        stories = list(chain.from_iterable(record.stories for record in records))
        boilerplate = list(chain.from_iterable(record.boilerplate for record in records))
        entities = list(chain.from_iterable(record.entities for record in records))
        counts = [[len(record.stories) for record in records], [len(record.boilerplate) for record in records], [len(record.entities) for record in records]]
        story_fields = [[item.start for item in stories], [item.end for item in stories], [item.truncated for item in stories]]
        boilerplate_fields = [[item.start for item in boilerplate], [item.end for item in boilerplate], [item.kind for item in boilerplate]]
        text_array = pa.array(texts, pa.string())
        entity_offsets = np.fromiter(chain.from_iterable((item.start, item.end) for item in entities), dtype=np.int32, count=2 * len(entities)).reshape(-1, 2)
        entity_texts = _StoryColumns._cut(text_array, _StoryColumns._byte_offsets(text_array, _char_bases(texts), all(map(str.isascii, texts)), entity_offsets, np.asarray(counts[2], dtype=np.int64)))
        entity_fields = [entity_offsets[:, 0], entity_offsets[:, 1], [item.label for item in entities], entity_texts]
        paragraphs = paragraph_columns(pairs)
        kind_ids = self.kind_ids
        names = [("start", "end", "truncated"), ("start", "end", "kind"), ("start", "end", "label", "text")]
        types = [(pa.int32(), pa.int32(), pa.bool_()), (pa.int32(), pa.int32(), pa.string()), (pa.int32(), pa.int32(), pa.string(), pa.string())]
        lists = [
            pa.ListArray.from_arrays(_list_offsets(count), pa.StructArray.from_arrays([values if isinstance(values, pa.Array) else pa.array(values, kind) for values, kind in zip(fields, kinds)], names=field_names))
            for count, fields, field_names, kinds in zip(counts, (story_fields, boilerplate_fields, entity_fields), names, types)
        ]
        paragraph_structs = pa.StructArray.from_arrays(
            [
                pa.array(paragraphs.starts.astype(np.int32)),
                pa.array(paragraphs.ends.astype(np.int32)),
                pa.array(paragraphs.stories.astype(np.int32)),
                pa.array(paragraphs.story_starts.astype(np.int8)),
                pa.array(np.fromiter(map(kind_ids.__getitem__, paragraphs.kinds), dtype=np.int64, count=len(paragraphs.kinds))),
            ],
            names=["start", "end", "story", "story_start", "boilerplate"],
        )
        arrays = [
            pa.array([snippet.id for snippet, _ in pairs], pa.string()),
            text_array,
            *lists,
            pa.ListArray.from_arrays(pa.array(paragraphs.bounds.astype(np.int32), pa.int32()), paragraph_structs),
        ]
        return pa.Table.from_arrays(arrays, schema=self.schema)


def _concatenated(arrays: list[np.ndarray], width: int) -> np.ndarray:
    """int32 arrays of `width` columns one after another (joined as bytes: faster than numpy for many small ones)."""
    return np.frombuffer(b"".join(arrays), dtype=np.int32).reshape(-1, width)


def _char_bases(texts: list[str]) -> np.ndarray:
    """Where each text begins, in characters, in the texts laid end to end."""
    bases = np.zeros(len(texts), dtype=np.int32)
    np.cumsum(np.fromiter(map(len, texts[:-1]), dtype=np.int32, count=max(len(texts) - 1, 0)), out=bases[1:])
    return bases


def _stories_of(batch: StoryBatch, numbers: list[int]) -> np.ndarray:
    """The indexes of the stories of pairs `numbers` of `batch`, in order."""
    chosen = np.asarray(numbers, dtype=np.int64)
    return concatenated_ranges(batch.story_bounds[chosen], batch.story_bounds[chosen + 1] - batch.story_bounds[chosen])


def _pairs_of(batch: StoryBatch, numbers: list[int]) -> np.ndarray:
    return np.asarray(numbers, dtype=np.int64)


def _list_offsets(counts: list[int]) -> pa.Array:
    return pa.array(np.concatenate([[0], np.cumsum(np.asarray(counts, dtype=np.int64))]).astype(np.int32), pa.int32())


class _StoryColumns:
    """Story rows gathered as one tuple of fields each and turned into Arrow arrays a batch at a time.

    Token and entity offsets come as the rows' int32 arrays (`StoryRow.token_offsets`,
    `StoryRow.entity_offsets`), joined per batch. Token and entity strings are cut from the text column's own UTF-8 buffer by
    Arrow (`take` over the boundaries of tokens and the gaps between them); the IOB2 tags and
    the list columns are computed with numpy.
    """

    def __init__(self, features: Features, label_ids: dict[str, int]) -> None:
        self.schema = features.arrow_schema
        self.label_ids = label_ids
        self.clear()

    def clear(self) -> None:
        self.pieces: list[tuple[StoryBatch, np.ndarray]] = []
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def add(self, batch: StoryBatch, stories: np.ndarray) -> None:
        """Take the stories of `batch` at these indexes (in order)."""
        self.pieces.append((batch, stories))
        self.count += len(stories)

    def _gathered(self) -> tuple:
        """The pieces' fields joined: per story id, snippet id, text, truncated, token count
        and entity count; the tokens (n, 2) and entities (m, 4) int32 rows and the labels."""
        ids: list[str] = []
        snippet_ids: list[str] = []
        texts: list[str] = []
        truncated: list[bool] = []
        token_parts, token_counts, entity_parts, entity_counts = [], [], [], []
        labels: list[str] = []
        for batch, stories in self.pieces:
            chosen = stories.tolist()
            ids += map(batch.ids.__getitem__, chosen)
            snippet_ids += map(batch.snippet_ids.__getitem__, chosen)
            texts += map(batch.texts.__getitem__, chosen)
            truncated += map(batch.truncated.__getitem__, chosen)
            for bounds, rows, counts, parts in ((batch.token_bounds, batch.tokens, token_counts, token_parts), (batch.entity_bounds, batch.entities, entity_counts, entity_parts)):
                count = bounds[stories + 1] - bounds[stories]
                counts.append(count)
                taken = concatenated_ranges(bounds[stories], count)
                parts.append(rows[taken])
                if rows is batch.entities:
                    labels += map(batch.labels.__getitem__, taken.tolist())
        token_counts_all = np.concatenate(token_counts) if token_counts else np.zeros(0, dtype=np.int64)
        entity_counts_all = np.concatenate(entity_counts) if entity_counts else np.zeros(0, dtype=np.int64)
        tokens = np.concatenate(token_parts) if token_parts else np.zeros((0, 2), dtype=np.int32)
        entities = np.concatenate(entity_parts) if entity_parts else np.zeros((0, 4), dtype=np.int32)
        return ids, snippet_ids, texts, truncated, token_counts_all, tokens, entity_counts_all, entities, labels

    @staticmethod
    def _byte_offsets(texts: pa.Array, char_base: np.ndarray, ascii: bool, char_offsets: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """(start, end) offsets into each story's text (`counts` rows per story) as offsets into
        the UTF-8 buffer of the whole text column (whose stories begin at `char_base` characters)."""
        offsets = char_offsets + np.repeat(char_base, counts)[:, None]
        if ascii:
            return offsets
        # A character beyond ASCII takes 1-3 bytes more than its one offset: find the lead
        # byte of each (few of them), its index among the characters, and add up the extra
        # bytes of those before every offset.
        text_offsets = np.frombuffer(texts.buffers()[1], dtype=np.int32, count=len(texts) + 1)
        values = np.frombuffer(texts.buffers()[2], dtype=np.uint8, count=int(text_offsets[-1]))
        leads = np.flatnonzero(values >= 0xC0)
        if not len(leads):
            return offsets
        lead_bytes = values[leads]
        extra = (lead_bytes >= 0xE0).astype(np.int32) + (lead_bytes >= 0xF0) + 1
        extra_before = np.zeros(len(leads), dtype=np.int64)
        np.cumsum(extra[:-1], out=extra_before[1:])
        lead_chars = leads - extra_before
        # The offsets are in ascending order: every lead adds its extra bytes to the offsets after it.
        flat = offsets.reshape(-1)
        after, first = np.unique(np.searchsorted(flat, lead_chars, side="right"), return_index=True)
        steps = np.zeros(len(flat) + 1, dtype=np.int32)
        steps[after] = np.add.reduceat(extra, first)
        np.cumsum(steps, out=steps)
        flat += steps[:-1]
        return offsets

    @staticmethod
    def _cut(texts: pa.Array, byte_offsets: np.ndarray) -> pa.Array:
        """The strings at (start, end) byte offsets into the text column's buffer, in order."""
        count = len(byte_offsets)
        if not count:
            return pa.array([], pa.string())
        bounds = np.ascontiguousarray(byte_offsets, dtype=np.int32).reshape(-1)
        # Every even element is a wanted string, every odd one the gap before the next.
        pieces = pa.StringArray.from_buffers(2 * count - 1, pa.py_buffer(bounds), texts.buffers()[2])
        return pieces.take(pa.array(np.arange(0, 2 * count - 1, 2, dtype=np.int32)))

    def table(self) -> pa.Table:
        ids, snippet_ids, text_list, truncated, token_counts, tokens, entity_counts, entity_columns, labels = self._gathered()
        texts = pa.array(text_list, pa.string())
        ascii = all(map(str.isascii, text_list))
        char_base = _char_bases(text_list)
        token_strings = self._cut(texts, self._byte_offsets(texts, char_base, ascii, tokens, token_counts))
        entity_count = len(labels)
        entity_offsets = np.ascontiguousarray(entity_columns[:, :2])
        firsts, afters = entity_columns[:, 2].astype(np.int64), entity_columns[:, 3].astype(np.int64)
        entity_texts = self._cut(texts, self._byte_offsets(texts, char_base, ascii, entity_offsets, entity_counts))
        entities = pa.StructArray.from_arrays(
            [pa.array(entity_offsets[:, 0]), pa.array(entity_offsets[:, 1]), pa.array(labels, pa.string()), entity_texts],
            names=["start", "end", "label", "text"],
        )
        tags = np.zeros(len(tokens), dtype=np.int64)
        if entity_count:
            story_base = np.zeros(len(token_counts), dtype=np.int64)
            np.cumsum(token_counts[:-1], out=story_base[1:])
            first = np.repeat(story_base, entity_counts) + firsts
            label_ids = self.label_ids
            label_numbers = np.fromiter(map(label_ids.__getitem__, labels), dtype=np.int64, count=entity_count)
            tags[first] = 2 * label_numbers + 1
            inside = afters - firsts - 1
            tags[concatenated_ranges(first + 1, inside)] = np.repeat(2 * label_numbers + 2, inside)
        token_lists = _list_offsets(token_counts)
        arrays = [
            pa.array(ids, pa.string()),
            pa.array(snippet_ids, pa.string()),
            texts,
            pa.ListArray.from_arrays(token_lists, token_strings),
            pa.ListArray.from_arrays(token_lists, pa.array(tags, pa.int64())),
            pa.ListArray.from_arrays(_list_offsets(entity_counts), entities),
            pa.array(truncated, pa.bool_()),
        ]
        return pa.Table.from_arrays(arrays, schema=self.schema)


class _SplitFiles:
    """One parquet file per split, written in batches.

    A batch's table is handed to one background thread that writes it (Arrow encodes and
    compresses without the GIL) while the next batch is gathered and built; at most one
    table waits to be written, so memory stays flat.
    """

    def __init__(self, folder: Path, config: str, features: Features, make_columns) -> None:
        self.folder = folder
        self.config = config
        self.schema = features.arrow_schema
        self.options = parquet_options(features)
        self.make_columns = make_columns
        self.buffers: dict[str, object] = {}
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.paths: dict[str, Path] = {}
        self.rows: dict[str, int] = {}
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"parquet-{config}")
        self.pending: Future | None = None

    def buffer(self, split: str):
        columns = self.buffers.get(split)
        if columns is None:
            columns = self.buffers[split] = self.make_columns()
            self.rows.setdefault(split, 0)
        return columns

    def add_pairs(self, split: str, batch: StoryBatch, numbers: list[int], sizes: list[int], rows_of) -> None:
        """Buffer the rows of pairs `numbers` of `batch` (`sizes` rows each, `rows_of(batch,
        numbers)` their indexes), writing a table whenever BATCH_ROWS or more are buffered
        after a pair (so the tables, and the row groups, end where they would pair by pair)."""
        columns = self.buffer(split)
        buffered = len(columns)
        first = 0
        for position, size in enumerate(sizes):
            buffered += size
            if buffered >= BATCH_ROWS:
                columns.add(batch, rows_of(batch, numbers[first : position + 1]))
                self.flush(split)
                buffered, first = 0, position + 1
        if first < len(numbers):
            columns.add(batch, rows_of(batch, numbers[first:]))
        self.rows[split] += sum(sizes)

    def flush(self, split: str) -> None:
        columns = self.buffers.get(split)
        if columns is None or not len(columns):
            return
        table = columns.table()
        writer = self.writers.get(split)
        if writer is None:
            folder = self.folder / "data" / self.config
            folder.mkdir(parents=True, exist_ok=True)
            path = safe_child(folder, split, "-00000-of-00001.parquet")  # = self.folder / data_file(config, split)
            with writing(path):
                writer = self.writers[split] = pq.ParquetWriter(path, self.schema, **self.options)
            self.paths[split] = path
        columns.clear()
        self.wait()
        self.pending = self.thread.submit(self._write, self.paths[split], writer, table)

    @staticmethod
    def _write(path: Path, writer: pq.ParquetWriter, table: pa.Table) -> None:
        with writing(path):
            writer.write_table(table, row_group_size=BATCH_ROWS)

    def wait(self) -> None:
        """Until the table handed to the thread is written (its error raised here)."""
        pending, self.pending = self.pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        try:
            for split in list(self.buffers):
                self.flush(split)
            self.wait()
        except BaseException:
            self.thread.shutdown(wait=True)
            for writer in self.writers.values():
                with suppress(Exception):  # the first error is the one to report
                    writer.close()
            raise
        self.thread.shutdown(wait=True)
        for split, writer in self.writers.items():
            with writing(self.paths[split]):
                writer.close()


class Writer(BaseWriter):
    """Writes the `stories` and `snippets` configs; the card is written by :meth:`finish`."""

    def __init__(self, folder: Path, context: ExportContext) -> None:
        from curate.export.card import hub_license
        from curate.store import CorpusLayout

        try:
            hub_license(context.config.license)  # refused before any row is written, not after
        except ValueError as error:
            raise ExportError(f"{CorpusLayout(context.corpus_path).config}: {error}") from None
        super().__init__(folder, context)
        self.tag_names = context.tag_names
        self.label_ids = {label: index for index, label in enumerate(context.labels)}
        self.paragraph_kind_ids = {kind: index for index, kind in enumerate(paragraph_kinds(context.config.boilerplate_kinds))}
        self.features = {STORIES: story_features(self.tag_names), SNIPPETS: snippet_features(context.config.boilerplate_kinds)}
        self.files = {
            STORIES: _SplitFiles(folder, STORIES, self.features[STORIES], lambda: _StoryColumns(self.features[STORIES], self.label_ids)),
            SNIPPETS: _SplitFiles(folder, SNIPPETS, self.features[SNIPPETS], lambda: _SnippetColumns(self.features[SNIPPETS], self.paragraph_kind_ids)),
        }

    def add(self, split: str, snippet: Snippet, record: Annotation, stories: list) -> None:
        self.add_batch([split], story_batch([(snippet, record)]))

    def add_batch(self, splits: list[str], batch: StoryBatch) -> None:
        """Take every pair of `batch` (the split of each in `splits`) with its stories."""
        by_split: dict[str, list[int]] = {}
        for number, split in enumerate(splits):
            by_split.setdefault(split, []).append(number)
        story_counts = np.diff(batch.story_bounds).tolist()
        for split, numbers in by_split.items():
            self.files[STORIES].add_pairs(split, batch, numbers, [story_counts[number] for number in numbers], _stories_of)
            self.files[SNIPPETS].add_pairs(split, batch, numbers, [1] * len(numbers), _pairs_of)

    def finish(self) -> list[Path]:
        from curate.export.card import dataset_card

        for files in self.files.values():
            files.close()
        splits = {name: {split: count for split, count in files.rows.items() if count} for name, files in self.files.items()}
        card = dataset_card(self.context, self.features, splits, self.folder)
        with writing(self.folder / "README.md"):
            (self.folder / "README.md").write_text(card, encoding="utf-8")
        return sorted(path for path in self.folder.rglob("*") if path.is_file())
