"""`curate ingest --skip-duplicates` (issue 18, item 4): a snippet whose text equals, exactly,
one already in the corpus or earlier in the input is left out and reported with both ids;
a repeated id stays a duplicate-id problem; without the flag nothing changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from curate.cli import app
from curate.ingest import IngestError, ingest
from curate.store import Corpus


def jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def snippets(directory: Path) -> list[tuple[str, str]]:
    corpus = Corpus.open(directory)
    return [(snippet.id, snippet.text) for snippet in corpus.iter_snippets()]


def test_a_repeat_within_one_file_is_left_out_and_named_with_both_ids(tmp_path):
    source = jsonl(tmp_path / "feed.jsonl", [
        {"id": "a", "text": "Wire story about rain."},
        {"id": "b", "text": "Another story."},
        {"id": "c", "text": "Wire story about rain."},
    ])
    report = ingest([source], tmp_path / "c", skip_duplicates=True)
    assert report.added == 2
    assert report.skipped == [f"{source}:3: id 'c' has the same text as 'a'"]
    assert snippets(tmp_path / "c") == [("a", "Wire story about rain."), ("b", "Another story.")]


def test_a_text_already_in_the_corpus_is_left_out(tmp_path):
    ingest([jsonl(tmp_path / "old.jsonl", [{"id": "old1", "text": "Kept once."}, {"id": "old2", "text": "Other."}])], tmp_path / "c")
    source = jsonl(tmp_path / "new.jsonl", [{"id": "new1", "text": "Kept once."}, {"id": "new2", "text": "Fresh text."}])
    report = ingest([source], tmp_path / "c", skip_duplicates=True)
    assert report.added == 1
    assert report.skipped == [f"{source}:1: id 'new1' has the same text as 'old1'"]
    assert [snippet_id for snippet_id, _ in snippets(tmp_path / "c")] == ["old1", "old2", "new2"]


def test_texts_that_differ_at_all_are_both_kept(tmp_path):
    texts = ["Same words.", "Same words. ", "same words.", "Same words.\r\n", "Same\u00a0words."]
    source = jsonl(tmp_path / "feed.jsonl", [{"id": f"s{k}", "text": text} for k, text in enumerate(texts)])
    report = ingest([source], tmp_path / "c", skip_duplicates=True)
    assert report.added == len(texts) and report.skipped == []


def test_a_repeated_id_is_still_a_duplicate_id_even_with_the_same_text(tmp_path):
    source = jsonl(tmp_path / "feed.jsonl", [{"id": "a", "text": "Same."}, {"id": "a", "text": "Same."}])
    with pytest.raises(IngestError) as refused:
        ingest([source], tmp_path / "c", skip_duplicates=True)
    assert refused.value.problems == [f"{source}:2: duplicate id 'a' (first at {source}:1)"]
    assert not (tmp_path / "c").exists()


def test_an_id_already_in_the_corpus_is_still_a_duplicate_id(tmp_path):
    ingest([jsonl(tmp_path / "old.jsonl", [{"id": "a", "text": "Same."}])], tmp_path / "c")
    source = jsonl(tmp_path / "new.jsonl", [{"id": "a", "text": "Same."}])
    with pytest.raises(IngestError) as refused:
        ingest([source], tmp_path / "c", skip_duplicates=True)
    assert len(refused.value.problems) == 1 and "duplicate id 'a'" in refused.value.problems[0]
    assert [snippet_id for snippet_id, _ in snippets(tmp_path / "c")] == ["a"]


def test_text_files_and_later_inputs_are_compared_too(tmp_path):
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "p1.txt").write_text("Page text.\n", encoding="utf-8")
    (tmp_path / "pages" / "p2.txt").write_text("Page text.\n", encoding="utf-8")
    source = jsonl(tmp_path / "feed.jsonl", [{"id": "j1", "text": "Page text.\n"}, {"id": "j2", "text": "New."}])
    report = ingest([tmp_path / "pages", source], tmp_path / "c", skip_duplicates=True)
    assert report.skipped == [
        f"{tmp_path / 'pages' / 'p2.txt'}:1: id 'p2' has the same text as 'p1'",
        f"{source}:1: id 'j1' has the same text as 'p1'",
    ]
    assert [snippet_id for snippet_id, _ in snippets(tmp_path / "c")] == ["p1", "j2"]


def test_without_the_flag_equal_texts_are_all_ingested(tmp_path):
    source = jsonl(tmp_path / "feed.jsonl", [{"id": "a", "text": "Same."}, {"id": "b", "text": "Same."}])
    report = ingest([source], tmp_path / "c")
    assert report.added == 2 and report.skipped == []
    assert snippets(tmp_path / "c") == [("a", "Same."), ("b", "Same.")]


def test_cli_reports_each_skipped_snippet_and_the_count(tmp_path):
    ingest([jsonl(tmp_path / "old.jsonl", [{"id": "a", "text": "Wire story."}])], tmp_path / "c")
    source = jsonl(tmp_path / "new.jsonl", [{"id": "b", "text": "Wire story."}, {"id": "d", "text": "Local news."}, {"id": "e", "text": "Local news."}])
    result = CliRunner().invoke(app, ["ingest", str(source), "--corpus", str(tmp_path / "c"), "--skip-duplicates"])
    assert result.exit_code == 0, result.output
    assert f"skipped {source}:1: id 'b' has the same text as 'a'" in result.stderr
    assert f"skipped {source}:3: id 'e' has the same text as 'd'" in result.stderr
    assert "1 snippet(s) added" in result.stdout and "2 skipped" in result.stdout
    assert [snippet_id for snippet_id, _ in snippets(tmp_path / "c")] == ["a", "d"]


def test_cli_without_the_flag_skips_nothing(tmp_path):
    source = jsonl(tmp_path / "new.jsonl", [{"id": "b", "text": "Wire story."}, {"id": "d", "text": "Wire story."}])
    result = CliRunner().invoke(app, ["ingest", str(source), "--corpus", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    assert "skipped" not in result.output
    assert [snippet_id for snippet_id, _ in snippets(tmp_path / "c")] == ["b", "d"]


def test_the_id_of_a_left_out_snippet_may_not_be_used_again(tmp_path):
    source = jsonl(tmp_path / "feed.jsonl", [{"id": "a", "text": "Same."}, {"id": "b", "text": "Same."}, {"id": "b", "text": "Different."}])
    with pytest.raises(IngestError) as refused:
        ingest([source], tmp_path / "c", skip_duplicates=True)
    assert refused.value.problems == [f"{source}:3: duplicate id 'b' (first at {source}:2)"]


def test_a_lone_surrogate_is_a_problem_before_it_is_a_duplicate(tmp_path):
    source = tmp_path / "feed.jsonl"
    source.write_text('{"id": "a", "text": "Same.", "meta": {}}\n{"id": "b", "text": "Same.", "meta": {"x": "\\ud800"}}\n', encoding="utf-8")
    report = ingest([source], tmp_path / "c", skip_duplicates=True, skip_invalid=True)
    assert len(report.skipped) == 1 and report.skipped[0].startswith(f"{source}:2: ") and "surrogate" in report.skipped[0]
