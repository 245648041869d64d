"""scripts/bench_keys.py drives the real annotate screen from a suggestion to the gold record."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from curate.ingest import ingest
from curate.model import Annotation, BoilerplateRange, Entity, Story
from curate.store import Corpus

ROOT = Path(__file__).resolve().parents[2]

NEWS = (
    "BERLIN 1996-08-30\n"
    "Kim Jong-un met Vladimir Putin in Pyongyang. Putin's aides said little.\n"
    "Photo: AP\n"
    "Flights left Ben Gurion airport on time.\n"
    "Airlines in Jakarta canceled flights after an eruption of the"
)
QUIET = "Second snippet about Bali.\nMore text here, from nobody."
PLAIN = "Third snippet with Jakarta in it."


def span(text: str, part: str, label: str, nth: int = 0) -> Entity:
    start = -1
    for _ in range(nth + 1):
        start = text.index(part, start + 1)
    return Entity(start=start, end=start + len(part), label=label)


def line(text: str, part: str, kind: str) -> BoilerplateRange:
    start = text.index(part)
    return BoilerplateRange(start=start, end=start + len(part), kind=kind)


def records() -> tuple[list[Annotation], list[Annotation]]:
    """(suggestions, gold): the news page differs in every kind of correction."""
    cut = NEWS.index("Flights")
    gold_news = Annotation(
        snippet_id="news",
        annotator="gold",
        stories=[Story(start=0, end=cut), Story(start=cut, end=len(NEWS), truncated=True)],
        boilerplate=[line(NEWS, "BERLIN 1996-08-30", "dateline"), line(NEWS, "Photo: AP", "credit")],
        entities=[
            span(NEWS, "BERLIN", "LOC"),
            span(NEWS, "Kim Jong-un", "PER"),
            span(NEWS, "Vladimir Putin", "PER"),  # re-spanned from "Vladimir"
            span(NEWS, "Pyongyang", "LOC"),  # relabelled from ORG
            span(NEWS, "Putin", "PER", nth=1),  # re-spanned from "Putin's"
            span(NEWS, "Ben Gurion airport", "LOC"),  # re-spanned from "Ben Gurion"
            span(NEWS, "Jakarta", "LOC"),  # added
        ],
    )
    suggested_news = Annotation(
        snippet_id="news",
        annotator="model:test",
        stories=[Story(start=0, end=len(NEWS))],  # the story start is missing, nothing truncated
        boilerplate=[line(NEWS, "BERLIN 1996-08-30", "dateline"), line(NEWS, "Photo: AP", "caption")],  # wrong kind
        entities=[
            span(NEWS, "BERLIN", "LOC"),
            span(NEWS, "Kim Jong-un", "PER"),
            span(NEWS, "Vladimir", "PER"),
            span(NEWS, "Pyongyang", "ORG"),
            span(NEWS, "Putin's", "PER"),
            span(NEWS, "aides", "ORG"),  # removed
            span(NEWS, "Ben Gurion", "LOC"),
        ],
    )
    cut = QUIET.index("More")
    gold_quiet = Annotation(
        snippet_id="quiet",
        annotator="gold",
        stories=[Story(start=0, end=cut), Story(start=cut, end=len(QUIET))],
        entities=[span(QUIET, "Bali", "LOC")],
    )
    gold_plain = Annotation(
        snippet_id="plain", annotator="gold", stories=[Story(start=0, end=len(PLAIN))], entities=[span(PLAIN, "Jakarta", "LOC")]
    )
    suggested_plain = gold_plain.model_copy(update={"annotator": "model:test"})
    # "quiet" has no suggestion: it starts from an empty record.
    return [suggested_news, suggested_plain], [gold_news, gold_quiet, gold_plain]


@pytest.fixture
def bench_keys():
    spec = importlib.util.spec_from_file_location("bench_keys", ROOT / "scripts" / "bench_keys.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_keys"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("bench_keys", None)


@pytest.fixture
def corpus_and_gold(tmp_path) -> tuple[Path, Path, list[Annotation]]:
    source = tmp_path / "source.jsonl"
    snippets = [{"id": "news", "text": NEWS}, {"id": "quiet", "text": QUIET}, {"id": "plain", "text": PLAIN}]
    source.write_text("".join(json.dumps(snippet) + "\n" for snippet in snippets), encoding="utf-8")
    corpus_dir = tmp_path / "corpus"
    ingest([source], corpus_dir, labels=["PER", "ORG", "LOC", "MISC"])
    suggestions, golds = records()
    with Corpus.open(corpus_dir) as corpus, corpus.suggestions(writable=True) as journal:
        journal.append_many(suggestions)
    gold_path = tmp_path / "gold.jsonl"
    gold_path.write_text("".join(gold.model_dump_json() + "\n" for gold in golds), encoding="utf-8")
    return corpus_dir, gold_path, golds


def marks(record: Annotation) -> tuple:
    return (
        [(s.start, s.end, s.truncated) for s in record.stories],
        [(b.start, b.end, b.kind) for b in record.boilerplate],
        [(e.start, e.end, e.label) for e in record.entities],
    )


def test_reaches_the_gold_from_a_suggestion_and_from_nothing(bench_keys, corpus_and_gold, capsys):
    corpus_dir, gold_path, golds = corpus_and_gold
    assert bench_keys.main([str(corpus_dir), "--gold", str(gold_path), "--json", "--annotator", "bench"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["snippets"] == 3 and figures["reached"] == 3
    rows = {row["id"]: row for row in figures["per_snippet"]}
    assert all(row["reached"] for row in rows.values())
    # Every kind of correction on the news page: story start, kind, flag, and the six entity
    # fixes (two re-spans by selection, one by `x` then a label, a relabel, an add, a remove).
    assert rows["news"]["items"] == 9
    # Each correction needs at least one editing key, and `done` is one more.
    assert rows["news"]["edits"] >= rows["news"]["items"] + 1
    for row in (*rows.values(), figures):
        assert row["keys"] == row["moves"] + row["edits"]
        assert row["keys"] >= row["edits"] > 0
    assert rows["plain"] == {"id": "plain", "keys": 1, "moves": 0, "edits": 1, "items": 0, "reached": True}  # only `done`
    assert figures["keys"] == sum(row["keys"] for row in rows.values())
    with Corpus.open(corpus_dir) as corpus, corpus.journal("bench") as journal:
        for gold in golds:
            saved = journal.latest(gold.snippet_id)
            assert saved.status == "done"
            assert marks(saved) == marks(gold)


def test_bad_gold_is_one_line_and_nothing_is_saved(bench_keys, corpus_and_gold, capsys):
    corpus_dir, gold_path, golds = corpus_and_gold
    lines = gold_path.read_text().splitlines()
    lines.insert(1, json.dumps({**json.loads(lines[0]), "snippet_id": "nowhere"}))
    gold_path.write_text("\n".join(lines) + "\n")
    assert bench_keys.main([str(corpus_dir), "--gold", str(gold_path)]) == 1
    error = capsys.readouterr().err
    assert error == f"error: {gold_path}:2: no snippet 'nowhere' in {corpus_dir}\n"
    with Corpus.open(corpus_dir) as corpus:
        assert corpus.annotators() == []


def test_a_key_modelled_wrong_is_caught_on_screen_and_the_gold_still_reached(bench_keys, corpus_and_gold, monkeypatch):
    """The planner's model of `l` is made wrong (two tokens a press): the driver reads the real
    cursor after each key, plans again from there, stops using `l` after two misses, and every
    key it pressed still counts."""
    corpus_dir, gold_path, golds = corpus_and_gold

    def two_tokens(page, record, cursor):
        return cursor.to(page.clamp(cursor.token + 2))

    monkeypatch.setitem(bench_keys.NAVIGATION, "cursor-right", two_tokens)
    figures, results = bench_keys.run(corpus_dir, gold_path, "wrong")
    assert figures["reached"] == 3
    assert figures["mispredicted"] >= 1
    assert any("cursor-right" in problem for result in results for problem in result.problems)
    with Corpus.open(corpus_dir) as corpus, corpus.journal("wrong") as journal:
        for gold in golds:
            assert marks(journal.latest(gold.snippet_id)) == marks(gold)
