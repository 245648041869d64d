"""`curate dedup` and export's leakage-free splits on the syndicated corpus of issue 18:
20 wire stories, each on 3 pages with two words changed."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner
from wire_corpus import build_wire_corpus, leaked_pairs, wire_pages

from curate.cli import app
from curate.export import _drift_notes
from curate.model import GoldAnnotation, Story, text_sha256
from curate.store import Corpus, CorpusLayout

runner = CliRunner()


@pytest.fixture
def wire(tmp_path):
    return build_wire_corpus(tmp_path)


def dedup_json(corpus_dir, *options):
    result = runner.invoke(app, ["dedup", str(corpus_dir), "--json", *options])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_dedup_json_finds_the_twenty_wire_stories_of_three_pages(wire):
    data = dedup_json(wire)
    assert data["stories"] == 60 and data["clustered"] == 60
    pages = wire_pages()
    clusters = data["clusters"]
    assert len(clusters) == 20
    for cluster in clusters:
        assert set(cluster) == {"id", "similarity", "members"} and 0.8 <= cluster["similarity"] <= 1.0
        members = cluster["members"]
        assert len(members) == 3
        # the three pages of one wire story: the same words but for the changed ones
        texts = [pages[member["snippet_id"]].split() for member in members]
        assert all(sum(a != b for a, b in zip(texts[0], text)) == 4 for text in texts[1:])
        assert all(member["start"] == 0 and member["end"] == len(pages[member["snippet_id"]]) for member in members)


def test_dedup_results_are_cached_until_records_change(wire):
    first = dedup_json(wire)
    cache = CorpusLayout(wire).dedup_cache
    assert json.loads(cache.read_text())["result"] == first
    # a second run reads the cache: a planted cluster there is what it reports
    planted = json.loads(cache.read_text())
    planted["result"]["clusters"] = planted["result"]["clusters"][:1]
    cache.write_text(json.dumps(planted))
    assert len(dedup_json(wire)["clusters"]) == 1
    # another threshold is another key
    assert len(dedup_json(wire, "--threshold", "0.7")["clusters"]) == 20
    # a changed gold file (one story split in two) makes it compute again
    text = wire_pages()["page-000"]
    with Corpus.open(wire) as corpus:
        corpus.gold().put(GoldAnnotation(snippet_id="page-000", annotator="gold", text_sha256=text_sha256(text), stories=[Story(start=0, end=40), Story(start=40, end=len(text))], status="done", adjudicator="carol"))
    data = dedup_json(wire)
    assert data["stories"] == 61 and len(data["clusters"]) == 20


def test_dedup_summary_names_the_largest_clusters(wire):
    result = runner.invoke(app, ["dedup", str(wire)])
    assert result.exit_code == 0, result.output
    assert "60 stories, 60 in 20 cluster(s)" in result.stdout
    assert "page-000[0:" in result.stdout and "smaller cluster(s)" in result.stdout


def test_dedup_refuses_a_threshold_out_of_range(wire):
    result = runner.invoke(app, ["dedup", str(wire), "--threshold", "0"])
    assert result.exit_code == 1 and "--threshold 0: give a similarity above 0 and at most 1" in result.output


def exported_splits(out):
    return {row["id"]: split.stem for split in sorted(out.glob("*.jsonl")) for row in map(json.loads, split.read_text().splitlines())}


def export(wire, out, *options):
    result = runner.invoke(app, ["export", str(wire), "--out", str(out), "--format", "jsonl", "--splits", "0.5,0.5", *options])
    assert result.exit_code == 0, result.output
    return exported_splits(out)


def test_export_puts_no_near_duplicate_pair_across_splits(wire, tmp_path):
    texts = wire_pages()
    grouped = export(wire, tmp_path / "grouped")
    plain = export(wire, tmp_path / "plain", "--no-dedup")
    assert sorted(grouped) == sorted(plain) == sorted(texts)
    assert set(grouped.values()) == {"train", "test"}
    assert leaked_pairs(texts, grouped) == 0
    assert leaked_pairs(texts, plain) > 0
    # re-exporting places every page where it was
    assert export(wire, tmp_path / "again") == grouped


def test_the_card_says_how_many_clusters_and_pages_were_grouped(wire, tmp_path):
    result = runner.invoke(app, ["export", str(wire), "--out", str(tmp_path / "hf"), "--splits", "0.5,0.5"])
    assert result.exit_code == 0, result.output
    card = (tmp_path / "hf" / "README.md").read_text()
    assert "20 cluster(s) of near-duplicate stories grouped 60 page(s) into 20 group(s)" in card
    result = runner.invoke(app, ["export", str(wire), "--out", str(tmp_path / "plain"), "--splits", "0.5,0.5", "--no-dedup"])
    assert "were not grouped (`--no-dedup`)" in (tmp_path / "plain" / "README.md").read_text()


def test_export_warns_when_one_large_cluster_pulls_a_split_off_its_fraction(tmp_path):
    from wire_corpus import page_variant, wire_story

    from curate.ingest import ingest

    story = wire_story(99)
    lines = [{"id": f"twin-{number:02d}", "text": page_variant(story, number)} for number in range(30)]
    lines += [{"id": f"solo-{number:02d}", "text": " ".join(wire_story(200 + number))} for number in range(30)]
    source = tmp_path / "pages.jsonl"
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))
    corpus_dir = tmp_path / "corpus"
    ingest([source], corpus_dir)
    with Corpus.open(corpus_dir) as corpus:
        corpus.gold().put(*(GoldAnnotation(snippet_id=line["id"], annotator="gold", text_sha256=text_sha256(line["text"]), stories=[Story(start=0, end=len(line["text"]))], status="done", adjudicator="carol") for line in lines))
    result = runner.invoke(app, ["export", str(corpus_dir), "--out", str(tmp_path / "out"), "--format", "jsonl", "--splits", "0.5,0.5"])
    assert result.exit_code == 0, result.output
    splits = exported_splits(tmp_path / "out")
    assert len({splits[f"twin-{number:02d}"] for number in range(30)}) == 1
    assert "points over the 50% asked for, because large clusters of near-duplicate pages go to one split together" in result.output


def test_drift_notes_only_for_drift_grouping_made():
    assert _drift_notes({"train": 0.5, "test": 0.5}, {"train": 52, "test": 48}, {"train": 50, "test": 50}) == []
    # the hash alone drifted as far: not grouping's doing
    assert _drift_notes({"train": 0.5, "test": 0.5}, {"train": 60, "test": 40}, {"train": 61, "test": 39}) == []
    notes = _drift_notes({"train": 0.5, "test": 0.5}, {"train": 70, "test": 30}, {"train": 50, "test": 50})
    assert [note.split(" holds")[0] for note in notes] == ["split 'train'", "split 'test'"]
    assert "70.0% of the snippets, 20.0 points over" in notes[0]
