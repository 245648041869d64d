"""Corpora and journals shared by the store's index tests (test_index_speed_paths,
test_index_halves, test_index_file, test_halves_safety): sixty short texts, journal lines with
every kind of damage, and the state of a journal's index to compare two ways of building it."""

import hashlib
import json

import curate.store.scan as scan
from curate.ingest import ingest
from curate.model import Annotation
from curate.store import Corpus, CorpusLayout, halves

TEXTS = {f"s{index}": f"Story {index} by Reporter {index}.\nPhoto: Agency {index}" for index in range(60)}


def make_corpus(tmp_path, texts=None):
    """A corpus of `texts` (id -> text; TEXTS by default) in tmp_path/c."""
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": key, "text": text, "meta": {}}) + "\n" for key, text in (texts or TEXTS).items()))
    ingest([source], tmp_path / "c")
    return Corpus.open(tmp_path / "c")


def line(snippet_id, status="done", note=None, sha="right", length=None, entities=()):
    text = TEXTS.get(snippet_id, "x" * 10)
    digest = {"right": hashlib.sha256(text.encode()).hexdigest(), "wrong": "0" * 64, "odd": "not a digest", None: None}[sha]
    record = Annotation(
        snippet_id=snippet_id, annotator="ana", text_sha256=digest, stories=[{"start": 0, "end": length or len(text)}],
        entities=[{"start": start, "end": end, "label": "ORG"} for start, end in entities], status=status, note=note,
    )
    return record.model_dump_json()


def journal_lines():
    lines = []
    for index in range(60):
        lines.append(line(f"s{index}", status=("done", "skipped", "flagged", None)[index % 4], sha=(None, "right")[index % 2]))
    lines += [
        line("s3", "done", note="again"),
        "",
        '{"snippet_id": 1 2}',
        json.dumps({"snippet_id": "s5"}),
        line("ghost"),
        '{"snippet_id": "s6", "annotator": "ana", "stories": [{"start": 0, "end": 4}]} {"x": 1}',
        line("s7", "flagged"),
        line("ghost", "skipped"),
        line("s8", sha="wrong"),
        line("s9", sha="odd"),
        line("s10", length=3),
    ]
    return lines


def write_journal(corpus, lines, tail=b""):
    path = corpus.journal_path("ana")
    path.parent.mkdir(exist_ok=True)
    path.write_bytes("".join(text + "\n" for text in lines).encode() + tail)
    return path


def state(journal):
    index = journal.index
    return {
        "statuses": [journal.status_of(position) if journal.has_record(position) else "-" for position in range(len(index))],
        "offsets": index.offsets.tolist(),
        "lengths": index.lengths.tolist(),
        "problems": [(problem.line, problem.reason, problem.torn) for problem in journal.problems],
        "unknown": dict(index.unknown),
        "size": index.size,
        "lines": index.lines,
        "live_bytes": index.live_bytes,
        "text_lengths": index.text_lengths.tolist(),
        "digest_kinds": index.digest_kinds.tolist(),
        "digests": index.digests.tolist(),
    }


def many_lines():
    """Damaged lines, unknown ids and superseded records spread over the whole journal."""
    lines = journal_lines()
    return lines + [line(key, "skipped") for key in list(TEXTS)[:25]] + journal_lines()[::-1]


def fresh_state(corpus):
    layout = CorpusLayout(corpus.path)
    for path in layout.journal_indexes.glob("*"):
        path.unlink()
    with Corpus.open(corpus.path) as opened, opened.journal("ana") as journal:
        return state(journal), journal.index.checked, journal.line_count


def split_small_scans(monkeypatch):
    """Every quick scan of more than a few bytes is split (the machine counted as two cores)."""
    monkeypatch.setattr(scan, "QUICK_SCAN_BYTES", 0)
    monkeypatch.setattr(halves, "SPLIT_BYTES", 600)
    monkeypatch.setattr(halves.os, "cpu_count", lambda: 2)
    return monkeypatch


def quick_indexes(corpus_dir, monkeypatch, names) -> None:
    """Index the journals of `names` as a first `curate stats` would: by a quick scan (the
    index says it is not checked), replacing any index saved before."""
    for path in CorpusLayout(corpus_dir).journal_indexes.glob("*"):
        path.unlink()
    with monkeypatch.context() as patch:
        patch.setattr(scan, "QUICK_SCAN_BYTES", 0)
        with Corpus.open(corpus_dir) as corpus:
            for name in names:
                with corpus.journal(name) as journal:
                    assert not journal.index.checked
                    journal.save_index()
