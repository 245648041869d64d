"""The card's Arrow sizes, added up while the parquet files are written, equal reading them back.

`card.arrow_size` reads a parquet file back a row group's worth at a time, as `datasets` does
when it prepares a split, and sums the batches' `nbytes`: the reference. The writer's
`ArrowBytes` works the same figure out from the tables it writes (no read-back); both are
compared on exports whose files hold one row group, several, and row groups that batches cross,
with and without boilerplate, entities and text beyond ASCII.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from export_fixtures import build_corpus
from tricky_texts import tricky_pages

from curate.export import export_corpus
from curate.export.card import arrow_size
from curate.export.context import ExportContext
from curate.export.rows import story_batch
from curate.formats.hf import CONFIGS, ArrowBytes, Writer, data_file, parquet_options, story_features
from curate.model import Annotation, CorpusConfig, Snippet, Story


def card_sizes(out) -> dict[tuple[str, str], int]:
    header = (out / "README.md").read_text(encoding="utf-8").split("---\n", 2)[1]
    return {(info["config_name"], split["name"]): split["num_bytes"] for info in yaml.safe_load(header)["dataset_info"] for split in info["splits"]}


@pytest.mark.parametrize("batch_rows", [3, 7, 8192])
def test_card_sizes_equal_the_files_read_back(tmp_path, monkeypatch, batch_rows):
    import curate.formats.hf as hf

    monkeypatch.setattr(hf, "BATCH_ROWS", batch_rows)
    corpus_dir = build_corpus(tmp_path, pages=40, annotators=("alice",))
    out = tmp_path / "out"
    export_corpus(corpus_dir, out, dedup=False)
    sizes = card_sizes(out)
    assert len(sizes) == 6
    for (config, split), size in sizes.items():
        path = out / data_file(config, split)
        assert size == arrow_size(path), (config, split)
    if batch_rows == 7:
        assert pq.ParquetFile(out / data_file("stories", "train")).metadata.num_row_groups > 3


def test_tricky_rows_in_many_tables(tmp_path, monkeypatch):
    """Texts beyond ASCII, stories without tokens, pages without entities or boilerplate, tables
    of 5+ rows cut into row groups of 4 that the read-back batches cross."""
    import curate.formats.hf as hf

    monkeypatch.setattr(hf, "BATCH_ROWS", 4)
    plain = [(Snippet(id=f"plain-{number}", text="No entities here.\nNor here.\n"), Annotation(snippet_id=f"plain-{number}", annotator="gold", stories=[Story(start=0, end=28)], status="done")) for number in range(3)]
    pages = tricky_pages() * 2 + plain
    writer = Writer(tmp_path, ExportContext(CorpusConfig(name="t"), tmp_path, "gold", {"train": 1.0}))
    for start in range(0, len(pages), 5):
        writer.add_batch(["train"] * len(pages[start : start + 5]), story_batch(pages[start : start + 5]))
    for config in CONFIGS:
        files = writer.files[config]
        files.close()
        path = tmp_path / data_file(config, "train")
        assert pq.ParquetFile(path).metadata.num_row_groups > 2
        assert files.sizes["train"].result() == arrow_size(path)


def test_a_table_sliced_anywhere_adds_up_like_the_whole(tmp_path):
    features = story_features(["O", "B-X", "I-X"])
    rows = [
        {"id": "a", "snippet_id": "s", "text": "Zoë met Kim.", "tokens": ["Zoë", "met", "Kim", "."], "ner_tags": [1, 0, 1, 0], "entities": [{"start": 0, "end": 3, "label": "X", "text": "Zoë"}], "truncated": False},
        {"id": "b", "snippet_id": "s", "text": "", "tokens": [], "ner_tags": [], "entities": [], "truncated": True},
        {"id": "c", "snippet_id": "t", "text": "Plain", "tokens": ["Plain"], "ner_tags": [0], "entities": [], "truncated": False},
    ] * 5
    table = pa.Table.from_pylist(rows, schema=features.arrow_schema)
    whole = ArrowBytes(features.arrow_schema, parquet_options(features))
    whole.add(table, 6)
    pieces = ArrowBytes(features.arrow_schema, parquet_options(features))
    for start, end in ((0, 7), (7, 8), (8, 13), (13, 15)):
        pieces.add(table.slice(start, end - start), 6)
    assert whole.result() == pieces.result()
    path = tmp_path / "rows.parquet"
    pq.write_table(table, path, row_group_size=6, **parquet_options(features))
    assert whole.result() == arrow_size(path)


def test_the_files_do_not_depend_on_how_the_rows_are_batched(tmp_path, monkeypatch):
    """Pages read 2 or 1,000 at a time give byte-identical folders (parquet files, and so the
    card's download sizes, included): tables are written whole, however they were buffered."""
    import curate.export as export
    import curate.formats.hf as hf

    monkeypatch.setattr(hf, "BATCH_ROWS", 16)
    corpus_dir = build_corpus(tmp_path, pages=60, annotators=("alice",))
    folders = []
    for rows_batch in (2, 1000):
        monkeypatch.setattr(export, "_ROWS_BATCH", rows_batch)
        out = tmp_path / f"out-{rows_batch}"
        export_corpus(corpus_dir, out, dedup=False)
        folders.append({path.relative_to(out): path.read_bytes() for path in sorted(out.rglob("*")) if path.is_file()})
    assert len(folders[0]) == 7
    assert folders[0] == folders[1]


def test_a_table_buffered_in_pieces_is_written_as_the_whole_table(tmp_path):
    """Parquet pages (content-defined chunks) follow the chunks of the table handed to the
    writer: rows buffered 300 at a time must give the bytes of the same rows handed whole."""
    import random

    from curate.formats.hf import STORIES, _SplitFiles

    features = story_features(["O", "B-X", "I-X"])
    rng = random.Random(1)
    words = "the government said on Tuesday that talks would resume after a week of protests".split()
    rows = []
    for number in range(3000):
        tokens = [rng.choice(words) for _ in range(rng.randint(20, 120))]
        rows.append({"id": f"s{number}#0", "snippet_id": f"s{number}", "text": " ".join(tokens), "tokens": tokens, "ner_tags": [0] * len(tokens), "entities": [], "truncated": False})
    table = pa.Table.from_pylist(rows, schema=features.arrow_schema)
    written = []
    for size in (3000, 300):
        folder = tmp_path / str(size)
        files = _SplitFiles(folder, STORIES, features)
        for start in range(0, len(table), size):
            piece = table.slice(start, size)
            files.add("train", piece, [1] * len(piece))
        files.close()
        written.append((folder / data_file(STORIES, "train")).read_bytes())
    assert written[0] == written[1]


def test_adding_up_sizes_leaves_no_reference_cycles():
    """An export runs without cycle collection (curate.store.unreferenced_garbage): a cycle made
    per table would keep every table's Arrow buffers to the export's end (it did: 4.8 GB at 1M stories)."""
    import gc

    features = story_features(["O", "B-X", "I-X"])
    rows = [{"id": "a", "snippet_id": "s", "text": "Zoë met Kim.", "tokens": ["Zoë", "met", "Kim", "."], "ner_tags": [1, 0, 1, 0], "entities": [{"start": 0, "end": 3, "label": "X", "text": "Zoë"}], "truncated": False}] * 20
    table = pa.Table.from_pylist(rows, schema=features.arrow_schema)
    sizes = ArrowBytes(features.arrow_schema, parquet_options(features))
    gc.collect()
    collecting = gc.isenabled()
    gc.disable()
    try:
        for start in range(0, 20, 3):
            sizes.add(table.slice(start, 3), 6)
        assert gc.collect() == 0
    finally:
        if collecting:
            gc.enable()
