"""The Hugging Face dataset folder: load_dataset round trips, offsets, IOB2, boilerplate, splits, card."""

from __future__ import annotations

import os

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest
import yaml
from export_fixtures import build_corpus
from seqeval.metrics.sequence_labeling import get_entities

from curate.export import export_corpus
from curate.export.rows import SplitAssigner, iob2_names
from curate.formats.hf import snippet_features, story_features
from curate.store import Corpus


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf")
    corpus_dir = build_corpus(root)
    out = root / "out"
    report = export_corpus(corpus_dir, out)
    return corpus_dir, out, report, root / "cache"


def load(out: Path, config: str, cache: Path) -> datasets.DatasetDict:
    return datasets.load_dataset(str(out), config, cache_dir=str(cache))


def gold_records(corpus_dir: Path):
    with Corpus.open(corpus_dir) as corpus:
        gold = corpus.gold()
        return {snippet_id: (corpus.snippet_by_id(snippet_id).text, record) for snippet_id, record in gold.records.items()}


def test_stories_load_with_their_features(exported):
    corpus_dir, out, report, cache = exported
    with Corpus.open(corpus_dir) as corpus:
        labels = corpus.config.label_names
    loaded = load(out, "stories", cache)
    assert set(loaded) == {"train", "validation", "test"}
    for split in loaded.values():
        assert split.features == story_features(iob2_names(labels))
        assert split.features["ner_tags"].feature.names[:3] == ["O", "B-PERSON", "I-PERSON"]
    gold = gold_records(corpus_dir)
    assert sum(len(split) for split in loaded.values()) == sum(len(record.stories) for _, record in gold.values()) == report.stories


def test_snippets_load_with_their_features(exported):
    corpus_dir, out, _, cache = exported
    with Corpus.open(corpus_dir) as corpus:
        kinds = corpus.config.boilerplate_kinds
    loaded = load(out, "snippets", cache)
    gold = gold_records(corpus_dir)
    rows = {row["id"]: row for split in loaded.values() for row in split}
    assert set(rows) == set(gold)
    for split in loaded.values():
        assert split.features == snippet_features(kinds)
    for snippet_id, (text, record) in gold.items():
        row = rows[snippet_id]
        assert row["text"] == text
        assert [(item["start"], item["end"], item["truncated"]) for item in row["stories"]] == [(s.start, s.end, s.truncated) for s in record.stories]
        assert [(item["start"], item["end"], item["kind"]) for item in row["boilerplate"]] == [(b.start, b.end, b.kind) for b in record.boilerplate]
        assert [(item["start"], item["end"], item["label"]) for item in row["entities"]] == [(e.start, e.end, e.label) for e in record.entities]
        for entity in row["entities"]:
            assert entity["text"] == text[entity["start"] : entity["end"]]


def test_paragraph_labels_mark_story_starts_and_boilerplate(exported):
    corpus_dir, out, _, cache = exported
    loaded = load(out, "snippets", cache)
    kind_names = loaded["train"].features["paragraphs"].feature["boilerplate"].names
    rows = {row["id"]: row for split in loaded.values() for row in split}
    page = rows["page-003"]  # a page with three stories, a credit line and an ad line
    lines = [line for line in page["text"].splitlines() if line.strip()]
    assert len(page["paragraphs"]) == len(lines)
    labelled = [(page["text"][p["start"] : p["end"]], p["story_start"], kind_names[p["boilerplate"]], p["story"]) for p in page["paragraphs"]]
    assert [(line[:12], start, kind, story) for line, start, kind, story in labelled] == [
        ("O'Brien arri", 1, "none", 0),
        ("Officials sa", 0, "none", 0),
        ("Photo: AT&T ", 0, "credit", 0),
        ("O'Brien late", 0, "none", 0),
        ("Markets in N", 1, "none", 1),
        ("Read more: s", 1, "ad", 2),
        ("Kim Jong-un ", 0, "none", 2),
    ]


def test_every_entity_text_equals_its_offsets(exported):
    _, out, _, cache = exported
    for split in load(out, "stories", cache).values():
        for row in split:
            for entity in row["entities"]:
                assert row["text"][entity["start"] : entity["end"]] == entity["text"]


def _token_offsets(text: str, tokens: list[str]) -> list[tuple[int, int]]:
    """Where each token string sits in the text, found left to right (independent of the tokenizer)."""
    offsets = []
    position = 0
    for token in tokens:
        start = text.index(token, position)
        assert not text[position:start].strip(), f"text between tokens: {text[position:start]!r}"
        offsets.append((start, start + len(token)))
        position = start + len(token)
    assert not text[position:].strip()
    return offsets


def test_iob2_tags_decode_back_to_the_entities(exported):
    _, out, _, cache = exported
    for split in load(out, "stories", cache).values():
        names = split.features["ner_tags"].feature.names
        for row in split:
            offsets = _token_offsets(row["text"], row["tokens"])
            tags = [names[tag] for tag in row["ner_tags"]]
            decoded = [(offsets[first][0], offsets[last][1], label) for label, first, last in get_entities(tags)]
            assert decoded == [(e["start"], e["end"], e["label"]) for e in row["entities"]]


def test_boilerplate_is_absent_from_story_text(exported):
    corpus_dir, out, _, cache = exported
    gold = gold_records(corpus_dir)
    stories = [row for split in load(out, "stories", cache).values() for row in split]
    assert stories
    for row in stories:
        text, record = gold[row["snippet_id"]]
        for item in record.boilerplate:
            assert text[item.start : item.end] not in row["text"]
        assert "Photo:" not in row["text"] and "Read more" not in row["text"]
        assert row["text"] == row["text"].strip() and "\n\n" not in row["text"]
    first = next(row for row in stories if row["id"] == "page-001#0")
    text, _ = gold["page-001"]
    lines = text.splitlines()
    assert first["text"] == "\n".join([lines[0], lines[1], lines[3]])


def test_entities_in_boilerplate_are_dropped_and_the_rest_kept(exported):
    corpus_dir, out, _, cache = exported
    gold = gold_records(corpus_dir)
    by_snippet: dict[str, list[str]] = {}
    for split in load(out, "stories", cache).values():
        for row in split:
            by_snippet.setdefault(row["snippet_id"], []).extend(entity["text"] for entity in row["entities"])
    for snippet_id, (text, record) in gold.items():
        outside = [
            text[e.start : e.end]
            for e in record.entities
            if not any(b.start <= e.start and e.end <= b.end for b in record.boilerplate)
        ]
        assert by_snippet[snippet_id] == outside
        assert len(outside) < len(record.entities)  # every page has an entity inside its credit line


def test_splits_come_from_the_snippet_id(exported):
    """... of the page, or of the smallest id of its group of pages that share a near-duplicate story."""
    from curate.dedup import find_duplicates, page_groups

    corpus_dir, out, _, cache = exported
    with Corpus.open(corpus_dir) as corpus:
        assign = SplitAssigner(dict(corpus.config.splits))
        groups = page_groups(find_duplicates(corpus).clusters)
    placed_by = {snippet_id: group[0] for group in groups for snippet_id in group}
    for config in ("stories", "snippets"):
        for split_name, split in load(out, config, cache).items():
            for row in split:
                snippet_id = row.get("snippet_id", row["id"])
                assert assign(placed_by.get(snippet_id, snippet_id)) == split_name


def test_reexport_is_identical_and_a_seed_moves_snippets(exported, tmp_path):
    corpus_dir, out, _, _ = exported
    again = tmp_path / "again"
    export_corpus(corpus_dir, again)
    for path in sorted(out.rglob("*.parquet")):
        relative = path.relative_to(out)
        assert pq.read_table(path).equals(pq.read_table(again / relative))
    seeded = tmp_path / "seeded"
    export_corpus(corpus_dir, seeded, seed=7, splits="0.5,0.5")
    names = {path.name.split("-")[0] for path in (seeded / "data" / "stories").iterdir()}
    assert names == {"train", "test"}
    assign, assign_seeded = SplitAssigner({"train": 0.5, "test": 0.5}), SplitAssigner({"train": 0.5, "test": 0.5}, seed=7)
    ids = [f"page-{number:03d}" for number in range(30)]
    assert [assign(i) for i in ids] != [assign_seeded(i) for i in ids]


def test_card_metadata_and_counts(exported):
    corpus_dir, out, _, cache = exported
    card = (out / "README.md").read_text(encoding="utf-8")
    _, header, body = card.split("---\n", 2)
    meta = yaml.safe_load(header)
    assert meta["task_categories"] == ["token-classification"]
    assert meta["task_ids"] == ["named-entity-recognition"]
    assert meta["language"] == ["en"]
    assert meta["license"] == "cc-by-4.0"
    assert meta["annotations_creators"] == ["expert-generated", "crowdsourced"]
    assert meta["size_categories"] == ["n<1K"]
    configs = {config["config_name"]: config for config in meta["configs"]}
    assert configs["stories"]["default"] is True and "default" not in configs["snippets"]
    infos = {info["config_name"]: info for info in meta["dataset_info"]}
    stories = load(out, "stories", cache)
    for split in infos["stories"]["splits"]:
        assert split["num_examples"] == len(stories[split["name"]])
    assert "| PERSON | `B-PERSON`, `I-PERSON` |" in body
    for name, split in stories.items():
        entities = sum(len(row["entities"]) for row in split)
        assert any(line.startswith(f"| {name} |") and line.rstrip(" |").endswith(str(entities)) for line in body.splitlines())
    from curate.agreement import agreement

    with Corpus.open(corpus_dir) as corpus:
        figures = agreement(corpus).to_json()
    assert figures["annotators"] == ["alice", "bob"]
    assert "## Inter-annotator agreement" in body
    assert f"Annotators: alice, bob; snippets compared: {figures['snippets']}." in body
    pair = figures["entities"]["pairs"][0]
    assert f"| alice / bob | {pair['n']} | {pair['precision']:.3f} | {pair['recall']:.3f} | {pair['f1']:.3f} |" in body


def test_card_without_several_annotators_has_no_agreement(tmp_path):
    corpus_dir = build_corpus(tmp_path, pages=4, annotators=("alice",))
    export_corpus(corpus_dir, tmp_path / "out")
    assert "agreement" not in (tmp_path / "out" / "README.md").read_text(encoding="utf-8").lower()


def test_card_shows_agreement_when_there_is_a_report(tmp_path, monkeypatch):
    import curate.export as export

    corpus_dir = build_corpus(tmp_path, pages=6)
    report = {
        "annotators": ["alice", "bob"],
        "snippets": 5,
        "boundaries": {"alpha": 0.91, "fleiss_kappa": None, "pairs": [{"a": "alice", "b": "bob", "n": 5, "pk": 0.05, "windowdiff": 0.07, "boundary_similarity": 0.9, "kappa": 0.88}]},
        "entities": {"alpha": 0.8, "alpha_u": 0.75, "pairs": [{"a": "alice", "b": "bob", "n": 5, "precision": 1.0, "recall": 0.9, "f1": 0.947, "overlap_f1": 0.95, "token_kappa": 0.9, "per_label": {}}]},
    }
    monkeypatch.setattr(export, "agreement_summary", lambda corpus, notes=None: report)
    export_corpus(corpus_dir, tmp_path / "out")
    body = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    assert "## Inter-annotator agreement" in body
    assert "Krippendorff's alpha 0.910, Fleiss' kappa n/a" in body
    assert "| alice / bob | 5 | 0.050 | 0.070 | 0.900 | 0.880 |" in body


def test_annotator_source_exports_only_done_records(tmp_path):
    corpus_dir = build_corpus(tmp_path, pages=8, gold=False)
    report = export_corpus(corpus_dir, tmp_path / "bob", source="bob")
    assert report.snippets == 7  # bob skipped page-000
    loaded = load(tmp_path / "bob", "snippets", tmp_path / "cache")
    assert "page-000" not in {row["id"] for split in loaded.values() for row in split}


def test_a_failed_export_leaves_nothing_behind(tmp_path):
    from curate.export import ExportError

    corpus_dir = build_corpus(tmp_path, pages=3, gold=False)
    with pytest.raises(ExportError, match="no gold.jsonl"):
        export_corpus(corpus_dir, tmp_path / "out")
    with pytest.raises(ExportError, match="--splits"):
        export_corpus(corpus_dir, tmp_path / "out", source="alice", splits="0.5,0.6")
    assert not (tmp_path / "out").exists()
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".out")] == []
