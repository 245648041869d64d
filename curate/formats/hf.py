"""The Hugging Face dataset folder: `stories` and `snippets` parquet files per split, and the card.

Layout (what `datasets.load_dataset(OUT, "stories")` reads through the card's `configs`)::

    OUT/README.md
    OUT/data/stories/<split>-00000-of-00001.parquet
    OUT/data/snippets/<split>-00000-of-00001.parquet

Rows are written in batches with pyarrow under the `datasets` features' own Arrow schema (it
carries the features in its metadata) and the parquet options `Dataset.to_parquet` uses, so
memory stays flat however large the corpus is. `Writer.rows` turns a batch of records into
story rows and snippet rows as Arrow tables per split, without Python work per token (see
`_StoryColumns`, `_SnippetColumns`); `Writer.add_rows` buffers them per split and hands tables of
about BATCH_ROWS rows to a second thread that writes them while the next batch is built. The
card's Arrow sizes are added up from those tables (`ArrowBytes`), not by reading the files back.
`scripts/bench_export.py` compares the writing (`add_rows` to the files' close) with
`Dataset.to_parquet` of the same rows.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter, itemgetter
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

    def __init__(self, schema: pa.Schema, kind_ids: dict[str, int]) -> None:
        self.schema = schema
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
        texts = list(map(_TEXT, map(_FIRST, pairs)))
        records = list(map(_SECOND, pairs))
        text_array = pa.array(texts, pa.string())
        lists = []
        for name, field_names in (("stories", ("start", "end", "truncated")), ("boilerplate", ("start", "end", "kind")), ("entities", ("start", "end", "label"))):
            per_record = list(map(attrgetter(name), records))
            counts = np.fromiter(map(len, per_record), dtype=np.int64, count=len(per_record))
            items = list(chain.from_iterable(per_record))
            starts = np.fromiter(map(_START, items), dtype=np.int32, count=len(items))
            ends = np.fromiter(map(_END, items), dtype=np.int32, count=len(items))
            third = list(map(attrgetter(field_names[2]), items))
            arrays = [pa.array(starts), pa.array(ends), pa.array(third, pa.bool_() if name == "stories" else pa.string())]
            if name == "entities":
                offsets = np.stack((starts, ends), axis=1)
                arrays.append(_StoryColumns._cut(text_array, _StoryColumns._byte_offsets(text_array, _char_bases(texts), all(map(str.isascii, texts)), offsets, counts)))
                field_names = (*field_names, "text")
            lists.append(pa.ListArray.from_arrays(_list_offsets(counts), pa.StructArray.from_arrays(arrays, names=list(field_names))))
        paragraphs = paragraph_columns(pairs)
        kind_ids = self.kind_ids
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
            pa.array(list(map(_ID, map(_FIRST, pairs))), pa.string()),
            text_array,
            *lists,
            pa.ListArray.from_arrays(pa.array(paragraphs.bounds.astype(np.int32), pa.int32()), paragraph_structs),
        ]
        return pa.Table.from_arrays(arrays, schema=self.schema)


_FIRST, _SECOND = itemgetter(0), itemgetter(1)
_TEXT, _ID, _START, _END = attrgetter("text"), attrgetter("id"), attrgetter("start"), attrgetter("end")


class ArrowBytes:
    """The size of a parquet file's rows as Arrow tables, as :func:`curate.export.card.arrow_size`
    measures it by reading the file back (a row group's worth at a time), worked out from the
    tables while they are written: no read-back.

    The file is read in batches of the first row group's rows, across row groups; a batch's
    `nbytes` counts, per array of its (flattened) type, 4 bytes an offset for strings and
    lists, the values' bytes, a byte per 8 values of a bitmap (booleans, and the validity
    bitmaps the parquet reader gives some nested columns; which ones is found by reading one
    row back, see :func:`_read_back_validity`). Tables are added in file order.
    """

    def __init__(self, schema: pa.Schema, options: dict) -> None:
        self.kinds = _node_kinds(schema, _read_back_validity(schema, options))
        self.batch_rows = 0
        self.carry = np.zeros((len(self.kinds), 2), dtype=np.int64)  # per node (values, string bytes) of the open batch
        self.carry_rows = 0
        self.total = 0

    def add(self, table: pa.Table, row_group_rows: int) -> None:
        rows = table.num_rows
        if not rows:
            return
        if not self.batch_rows:
            self.batch_rows = min(row_group_rows, rows)
        for part in table.to_batches():
            self._add(part)

    def _add(self, part: pa.RecordBatch) -> None:
        rows = part.num_rows
        nodes = [node for column in part.columns for node in _flat_nodes(column)]
        start = 0
        while start < rows:
            end = min(rows, start + self.batch_rows - self.carry_rows)
            self.carry += _node_counts(nodes, start, end)
            self.carry_rows += end - start
            start = end
            if self.carry_rows == self.batch_rows:
                self._close_batch()

    def _close_batch(self) -> None:
        self.total += _batch_bytes(self.kinds, self.carry)
        self.carry[:] = 0
        self.carry_rows = 0

    def result(self) -> int:
        if self.carry_rows:
            self._close_batch()
        return self.total


_WIDTHS = {pa.int8(): 1, pa.int16(): 2, pa.int32(): 4, pa.int64(): 8, pa.float32(): 4, pa.float64(): 8}


def _node_kinds(schema: pa.Schema, validity: list[bool]) -> list[tuple[str, int, bool]]:
    """Per node of the schema's types, depth first: (kind, value width, has a validity bitmap when read back)."""
    kinds: list[tuple[str, int, bool]] = []

    def walk(kind: pa.DataType) -> None:
        has_validity = validity[len(kinds)]
        if pa.types.is_string(kind):
            kinds.append(("offsets", 0, has_validity))
        elif pa.types.is_list(kind):
            kinds.append(("offsets", 0, has_validity))
            walk(kind.value_type)
        elif pa.types.is_struct(kind):
            kinds.append(("struct", 0, has_validity))
            for number in range(kind.num_fields):
                walk(kind.field(number).type)
        elif pa.types.is_boolean(kind):
            kinds.append(("bits", 0, has_validity))
        elif kind in _WIDTHS:
            kinds.append(("fixed", _WIDTHS[kind], has_validity))
        else:
            raise TypeError(f"no size rule for Arrow type {kind}")

    for schema_field in schema:
        walk(schema_field.type)
    return kinds


def _flat_nodes(array: pa.Array, nodes: list | None = None) -> list[tuple[str, object, np.ndarray | None]]:
    """The nodes of `array` depth first as (kind, array, offsets as numpy or None), added to
    `nodes`. (Recursion by a plain function: a nested one would make a reference cycle holding
    the arrays, which the export, running without cycle collection, would keep to its end.)"""
    if nodes is None:
        nodes = []
    kind = array.type
    if pa.types.is_string(kind) or pa.types.is_list(kind):
        offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)[array.offset : array.offset + len(array) + 1]
        nodes.append(("offsets", array, offsets))
        if pa.types.is_list(kind):
            _flat_nodes(array.values, nodes)  # the whole values, which a slice's offsets index
    elif pa.types.is_struct(kind):
        nodes.append(("struct", array, None))
        for child in array.flatten() if array.offset else (array.field(number) for number in range(kind.num_fields)):
            _flat_nodes(child, nodes)
    else:
        nodes.append(("plain", array, None))
    return nodes


def _node_counts(nodes: list, start: int, end: int) -> np.ndarray:
    """Per node: values and string bytes of rows [start, end) of the column the nodes are of."""
    counts = np.zeros((len(nodes), 2), dtype=np.int64)
    # Every node's range follows from its parent's: walk the nodes keeping the range per depth.
    ranges = [(start, end)]
    stack: list[int] = []  # children still to come per open node
    for number, (kind, node, offsets) in enumerate(nodes):
        low, high = ranges[-1]
        counts[number, 0] = high - low
        if kind == "offsets":
            first, after = int(offsets[low]), int(offsets[high])
            if pa.types.is_string(node.type):
                counts[number, 1] = after - first
            else:
                ranges.append((first, after))
                stack.append(1)
                continue
        elif kind == "struct":
            ranges.append((low, high))
            stack.append(node.type.num_fields)
            continue
        while stack:
            stack[-1] -= 1
            if stack[-1]:
                break
            stack.pop()
            ranges.pop()
    return counts


def _batch_bytes(kinds: list[tuple[str, int, bool]], counts: np.ndarray) -> int:
    """`nbytes` of a read-back batch whose nodes hold these (values, string bytes)."""
    total = 0
    for (kind, width, has_validity), (values, data) in zip(kinds, counts.tolist()):
        if kind == "offsets":
            total += 4 * values + data
        elif kind == "bits":
            total += (values + 7) // 8
        elif kind == "fixed":
            total += width * values
        if has_validity:
            total += (values + 7) // 8
    return total


_VALIDITY: dict[tuple[pa.Schema, str], list[bool]] = {}


def _read_back_validity(schema: pa.Schema, options: dict) -> list[bool]:
    """Per node of the schema's types, depth first: whether the parquet reader gives the read-back
    array a validity bitmap (this pyarrow gives one to nested int32 and int64 columns, not to
    strings, booleans or int8), found by writing one row in memory and reading it back."""
    key = (schema, repr(sorted(options.items(), key=lambda item: item[0])))
    if key not in _VALIDITY:
        import io

        def value(kind: pa.DataType):
            if pa.types.is_string(kind):
                return "a"
            if pa.types.is_list(kind):
                return [value(kind.value_type)]
            if pa.types.is_struct(kind):
                return {kind.field(number).name: value(kind.field(number).type) for number in range(kind.num_fields)}
            if pa.types.is_boolean(kind):
                return True
            return 1

        table = pa.Table.from_pylist([{schema_field.name: value(schema_field.type) for schema_field in schema}], schema=schema)
        buffer = io.BytesIO()
        with pq.ParquetWriter(buffer, schema, **options) as writer:
            writer.write_table(table)
        buffer.seek(0)
        back = pq.ParquetFile(buffer).read().combine_chunks()
        found: list[bool] = []

        def walk(node: pa.Array) -> None:
            found.append(node.buffers()[0] is not None)
            if pa.types.is_list(node.type):
                walk(node.values)
            elif pa.types.is_struct(node.type):
                for number in range(node.type.num_fields):
                    walk(node.field(number))

        for column in back.columns:
            walk(column.chunk(0))
        _VALIDITY[key] = found
    return _VALIDITY[key]


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


def _list_offsets(counts: list[int]) -> pa.Array:
    return pa.array(np.concatenate([[0], np.cumsum(np.asarray(counts, dtype=np.int64))]).astype(np.int32), pa.int32())


class _StoryColumns:
    """Story rows gathered as one tuple of fields each and turned into Arrow arrays a batch at a time.

    Token and entity offsets come as the rows' int32 arrays (`StoryRow.token_offsets`,
    `StoryRow.entity_offsets`), joined per batch. Token and entity strings are cut from the text column's own UTF-8 buffer by
    Arrow (`take` over the boundaries of tokens and the gaps between them); the IOB2 tags and
    the list columns are computed with numpy.
    """

    def __init__(self, schema: pa.Schema, label_ids: dict[str, int]) -> None:
        self.schema = schema
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


@dataclass
class SplitRows:
    """Rows of one config and one split, built from one batch, ready to write: an Arrow table
    under the config's schema and how many of its rows each pair (snippet) gave, in order."""

    config: str
    split: str
    table: pa.Table
    pair_rows: list[int]


class _SplitFiles:
    """One parquet file per split, written in tables of about BATCH_ROWS rows.

    Rows come as Arrow tables (:class:`SplitRows`); they are buffered per split and handed,
    whenever BATCH_ROWS or more are buffered after a pair, to one background thread that
    writes them (Arrow encodes and compresses without the GIL) while the next rows are built;
    at most one table waits to be written, so memory stays flat.
    """

    def __init__(self, folder: Path, config: str, features: Features) -> None:
        self.folder = folder
        self.config = config
        self.schema = features.arrow_schema
        self.options = parquet_options(features)
        self.buffers: dict[str, list[pa.Table]] = {}
        self.buffered: dict[str, int] = {}
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.paths: dict[str, Path] = {}
        self.rows: dict[str, int] = {}
        self.sizes: dict[str, ArrowBytes] = {}
        """Per split, the size of its rows as Arrow tables (what the card states), added up as tables are written."""
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"parquet-{config}")
        self.pending: Future | None = None

    def add(self, split: str, table: pa.Table, pair_rows: list[int]) -> None:
        """Buffer `table` (rows of pairs of `pair_rows` rows each), writing a table whenever
        BATCH_ROWS or more are buffered after a pair (so tables, and row groups, end where they
        would were the rows added pair by pair)."""
        self.rows[split] = self.rows.get(split, 0) + len(table)
        buffered = self.buffered.get(split, 0)
        if buffered + len(table) < BATCH_ROWS:  # most tables: no flush inside
            if len(table):
                self.buffers.setdefault(split, []).append(table)
            self.buffered[split] = buffered + len(table)
            return
        row = first = 0
        for size in pair_rows:
            row += size
            buffered += size
            if buffered >= BATCH_ROWS:
                self.buffers.setdefault(split, []).append(table.slice(first, row - first))
                self.flush(split)  # a new buffer
                buffered, first = 0, row
        if first < len(table):
            self.buffers.setdefault(split, []).append(table.slice(first))
        self.buffered[split] = buffered

    def flush(self, split: str) -> None:
        pieces = [piece for piece in self.buffers.get(split, []) if len(piece)]
        self.buffers[split] = []
        self.buffered[split] = 0
        if not pieces:
            return
        table = pieces[0] if len(pieces) == 1 else pa.concat_tables(pieces)
        writer = self.writers.get(split)
        if writer is None:
            folder = self.folder / "data" / self.config
            folder.mkdir(parents=True, exist_ok=True)
            path = safe_child(folder, split, "-00000-of-00001.parquet")  # = self.folder / data_file(config, split)
            with writing(path):
                writer = self.writers[split] = pq.ParquetWriter(path, self.schema, **self.options)
            self.paths[split] = path
        sizes = self.sizes.get(split)
        if sizes is None:
            sizes = self.sizes[split] = ArrowBytes(self.schema, self.options)
        sizes.add(table, BATCH_ROWS)
        self.wait()
        self.pending = self.thread.submit(self._write, self.paths[split], writer, table)

    @staticmethod
    def _write(path: Path, writer: pq.ParquetWriter, table: pa.Table) -> None:
        with writing(path):
            # One chunk per column, as a table built whole would be: the pages, and so the
            # file's bytes, do not depend on how the rows were buffered.
            writer.write_table(table.combine_chunks(), row_group_size=BATCH_ROWS)

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
    """Writes the `stories` and `snippets` configs; the card is written by :meth:`finish`.

    :meth:`add_batch` is :meth:`rows` (the batch's story and snippet rows per split as Arrow
    tables) then :meth:`add_rows` (buffer them per split and write parquet).
    """

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
        self.files = {name: _SplitFiles(folder, name, self.features[name]) for name in CONFIGS}

    def add(self, split: str, snippet: Snippet, record: Annotation, stories: list) -> None:
        self.add_batch([split], story_batch([(snippet, record)]))

    def rows(self, splits: list[str], batch: StoryBatch) -> list[SplitRows]:
        """The story rows and snippet rows of every pair of `batch` (the split of each in
        `splits`) as Arrow tables, one per config and split."""
        by_split: dict[str, list[int]] = {}
        for number, split in enumerate(splits):
            by_split.setdefault(split, []).append(number)
        story_counts = np.diff(batch.story_bounds)
        result = []
        for split, numbers in by_split.items():
            stories = _StoryColumns(self.files[STORIES].schema, self.label_ids)
            stories.add(batch, _stories_of(batch, numbers))
            result.append(SplitRows(STORIES, split, stories.table(), story_counts[numbers].tolist()))
            snippets = _SnippetColumns(self.files[SNIPPETS].schema, self.paragraph_kind_ids)
            snippets.add(batch, np.asarray(numbers, dtype=np.int64))
            result.append(SplitRows(SNIPPETS, split, snippets.table(), [1] * len(numbers)))
        return result

    def add_rows(self, rows: list[SplitRows]) -> None:
        """Write rows made by :meth:`rows`."""
        for part in rows:
            self.files[part.config].add(part.split, part.table, part.pair_rows)

    def add_batch(self, splits: list[str], batch: StoryBatch) -> None:
        """Take every pair of `batch` (the split of each in `splits`) with its stories."""
        self.add_rows(self.rows(splits, batch))

    def finish(self) -> list[Path]:
        from curate.export.card import dataset_card

        for files in self.files.values():
            files.close()
        splits = {name: {split: count for split, count in files.rows.items() if count} for name, files in self.files.items()}
        sizes = {name: {split: sizes.result() for split, sizes in files.sizes.items()} for name, files in self.files.items()}
        card = dataset_card(self.context, self.features, splits, self.folder, sizes)
        with writing(self.folder / "README.md"):
            (self.folder / "README.md").write_text(card, encoding="utf-8")
        return sorted(path for path in self.folder.rglob("*") if path.is_file())
