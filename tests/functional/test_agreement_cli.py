"""`curate agreement DIR [--annotators] [--json] [--report]` on a corpus on disk."""

from __future__ import annotations

import io
import json

import krippendorff
import numpy as np
import pytest
from numpy import nan
from rich.console import Console
from statsmodels.stats.inter_rater import fleiss_kappa as statsmodels_fleiss
from typer.testing import CliRunner

from curate.agreement import agreement, disagreement_ranking, snippet_disagreement
from curate.agreement.metrics import unitizing_alpha
from curate.agreement.render import render
from curate.cli import app
from curate.ingest import ingest
from curate.model import Annotation, text_sha256
from curate.store import Corpus

runner = CliRunner()

TEXT = "Council votes on the harbour.\nAna Lopez said the plan is late.\nPhoto: Ben Okafor\nLanport wins the cup."
SECOND = TEXT.index("Ana")
PHOTO = TEXT.index("Photo")
LAST = TEXT.index("Lanport")
HOSTILE_ID = "s\x1b[31mred"


def record(snippet_id, annotator, starts=(), entities=(), status="done"):
    edges = [0, *starts, len(TEXT)]
    return Annotation.model_validate({
        "snippet_id": snippet_id, "annotator": annotator, "status": status,
        "stories": [{"start": s, "end": e} for s, e in zip(edges, edges[1:])],
        "entities": [{"start": s, "end": e, "label": label} for s, e, label in entities],
        "boilerplate": [{"start": PHOTO, "end": PHOTO + 17, "kind": "credit"}] if annotator != "cy" else [],
    })


def make_corpus(tmp_path):
    source = tmp_path / "in.jsonl"
    ids = ["s1", "s2", HOSTILE_ID]
    source.write_text("".join(json.dumps({"id": sid, "text": TEXT}) + "\n" for sid in ids))
    ingest([source], tmp_path / "c")
    corpus = Corpus.open(tmp_path / "c")
    plans = {
        "ana": [("s1", (LAST,), ((SECOND, SECOND + 9, "PERSON"),)), ("s2", (SECOND, LAST), ()), (HOSTILE_ID, (LAST,), ())],
        "ben": [("s1", (LAST,), ((SECOND, SECOND + 9, "ORG"),)), ("s2", (LAST,), ()), (HOSTILE_ID, (), ((LAST, LAST + 7, "ORG"),))],
        "cy": [("s1", (SECOND,), ())],
    }
    for name, rows in plans.items():
        with corpus.journal(name, writable=True) as journal:
            for sid, starts, entities in rows:
                journal.append(record(sid, name, starts, entities))
            if name == "cy":
                journal.append(record("s2", name, status="skipped"))  # not compared: not done
    corpus.close()
    return tmp_path / "c"


def test_json_has_exactly_the_design_shape(tmp_path):
    directory = make_corpus(tmp_path)
    result = runner.invoke(app, ["agreement", str(directory), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert list(data) == ["annotators", "snippets", "boundaries", "entities"]
    assert data["annotators"] == ["ana", "ben", "cy"]
    assert data["snippets"] == 3
    assert list(data["boundaries"]) == ["alpha", "fleiss_kappa", "pairs"]
    assert [(p["a"], p["b"], p["n"]) for p in data["boundaries"]["pairs"]] == [("ana", "ben", 3), ("ana", "cy", 1), ("ben", "cy", 1)]
    assert all(list(p) == ["a", "b", "n", "pk", "windowdiff", "boundary_similarity", "kappa"] for p in data["boundaries"]["pairs"])
    assert list(data["entities"]) == ["alpha", "alpha_u", "pairs"]
    entity_keys = ["a", "b", "n", "precision", "recall", "f1", "overlap_f1", "token_kappa", "per_label"]
    assert all(list(p) == entity_keys for p in data["entities"]["pairs"])
    first = data["entities"]["pairs"][0]
    assert first["per_label"] == {"PERSON": {"precision": None, "recall": 0.0, "f1": 0.0}, "ORG": {"precision": 0.0, "recall": None, "f1": 0.0}}
    assert first["overlap_f1"] == 0.0  # same span, different labels: not an overlap match
    # The figures against references, from the plans in make_corpus. A decision is whether a
    # story starts at each line start after the first (SECOND, PHOTO, LAST; every story start
    # here is one of them): 1 starts, 0 not, nan where the annotator did not finish the snippet.
    decisions = np.array([
        #  s1        s2          HOSTILE_ID
        [0, 0, 1, 1, 0, 1, 0, 0, 1],  # ana
        [0, 0, 1, 0, 0, 1, 0, 0, 0],  # ben
        [1, 0, 0, nan, nan, nan, nan, nan, nan],  # cy skipped s2, never opened HOSTILE_ID
    ])
    alpha = krippendorff.alpha(reliability_data=decisions, level_of_measurement="nominal")
    assert data["boundaries"]["alpha"] == pytest.approx(alpha, abs=1e-9)
    # Fleiss' kappa needs the snippets all three did: only s1. Per decision, how many said 0 and 1.
    s1 = decisions[:, :3]
    table = np.stack([(s1 == 0).sum(axis=0), (s1 == 1).sum(axis=0)], axis=1)
    assert table.tolist() == [[2, 1], [3, 0], [1, 2]]
    assert data["boundaries"]["fleiss_kappa"] == pytest.approx(statsmodels_fleiss(table, method="fleiss"), abs=1e-9)
    # The unitizing alpha of entities, also over s1 only: ana's PERSON and ben's ORG on the same
    # characters, cy marked nothing (the metric itself is checked against Krippendorff's own
    # worked example in test_agreement_metrics).
    span = (np.array([SECOND]), np.array([SECOND + 9]))
    units = [(*span, np.array([0])), (*span, np.array([1])), (np.array([], dtype=np.int64),) * 3]
    alpha_u = unitizing_alpha(len(TEXT), np.array([], dtype=np.int64), units)
    assert alpha_u is not None and alpha_u < 0  # two labels and a blank for one name: worse than chance
    assert data["entities"]["alpha_u"] == pytest.approx(alpha_u, abs=1e-9)


def test_annotators_option_restricts_the_comparison(tmp_path):
    directory = make_corpus(tmp_path)
    result = runner.invoke(app, ["agreement", str(directory), "--json", "--annotators", "ben,ana"])
    data = json.loads(result.stdout)
    assert data["annotators"] == ["ana", "ben"]
    assert len(data["boundaries"]["pairs"]) == 1
    with Corpus.open(directory) as corpus:
        assert agreement(corpus, ["ana", "ben"]).to_json() == data


def test_unknown_annotator_and_bad_report_name_fail_clearly(tmp_path):
    directory = make_corpus(tmp_path)
    result = runner.invoke(app, ["agreement", str(directory), "--annotators", "ana,zed"])
    assert result.exit_code != 0
    assert "zed" in result.output and "ana, ben, cy" in result.output
    result = runner.invoke(app, ["agreement", str(directory), "--report", str(tmp_path / "out.pdf")])
    assert result.exit_code != 0 and ".md or .html" in result.output
    assert not (tmp_path / "out.pdf").exists()
    result = runner.invoke(app, ["agreement", str(tmp_path / "missing")])
    assert result.exit_code != 0


def test_terminal_tables_fit_80_columns_and_escape_hostile_ids(tmp_path):
    directory = make_corpus(tmp_path)
    with Corpus.open(directory) as corpus:
        report = agreement(corpus)
    buffer = io.StringIO()
    Console(file=buffer, width=80, force_terminal=False, color_system=None).print(render(report))
    output = buffer.getvalue()
    assert all(len(line) <= 80 for line in output.splitlines())
    for title in ("Story boundaries", "Entities", "Entities per label", "Label confusion", "Boilerplate", "Most disagreed snippets"):
        assert title in output
    assert "ana · ben" in output  # pair names are not broken across lines
    assert "\x1b" not in output and "\\x1b[31mred" in output


def test_report_files_markdown_with_svg_and_html_inline(tmp_path):
    directory = make_corpus(tmp_path)
    markdown = tmp_path / "agreement.md"
    result = runner.invoke(app, ["agreement", str(directory), "--report", str(markdown)])
    assert result.exit_code == 0, result.output
    page = markdown.read_text()
    svg = tmp_path / "agreement.confusion.svg"
    assert "| ana · ben | 3 |" in page and "(agreement.confusion.svg)" in page
    assert svg.read_text().startswith("<svg") and "PERSON" in svg.read_text()
    html = tmp_path / "agreement.html"
    result = runner.invoke(app, ["agreement", str(directory), "--report", str(html)])
    assert result.exit_code == 0, result.output
    page = html.read_text()
    assert "<svg" in page and "<table>" in page and "\x1b" not in page and "\\x1b[31mred" in page


def test_disagreement_ranking_orders_the_review_queue(tmp_path):
    directory = make_corpus(tmp_path)
    with Corpus.open(directory) as corpus:
        ranking = disagreement_ranking(corpus)
        # s1: cy starts a story elsewhere, the entity's labels differ, cy marks no credit: 4 of 4.
        # The hostile one: story start and entity one-sided, the credit agreed: 2 of 3.
        assert [(entry.snippet_id, entry.disagreements, entry.decisions) for entry in ranking] == [("s1", 4, 4), (HOSTILE_ID, 2, 3), ("s2", 1, 3)]
        for entry in ranking:
            position = corpus.position(entry.snippet_id)
            records = {}
            for name in entry.annotators:
                with corpus.journal(name) as journal:
                    records[name] = journal.record_at(position)
            assert entry.score == snippet_disagreement(records)
        assert [entry.score for entry in ranking] == sorted((entry.score for entry in ranking), reverse=True)


def test_corpus_without_two_annotators_reports_nothing_to_compare(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "s1", "text": TEXT}) + "\n")
    ingest([source], tmp_path / "c")
    result = runner.invoke(app, ["agreement", str(tmp_path / "c"), "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data == {"annotators": [], "snippets": 0, "boundaries": {"alpha": None, "fleiss_kappa": None, "pairs": []}, "entities": {"alpha": None, "alpha_u": None, "pairs": []}}
    result = runner.invoke(app, ["agreement", str(tmp_path / "c")])
    assert "Nothing to compare" in result.output


def test_reading_in_two_processes_gives_the_same_report(tmp_path):
    directory = make_corpus(tmp_path)
    with Corpus.open(directory) as corpus:
        # Labels outside the corpus config, first seen in a different order by each worker.
        with corpus.journal("ana", writable=True) as journal:
            journal.append(record("s2", "ana", (LAST,), ((SECOND, SECOND + 9, "ZED"),)))
            journal.append(record(HOSTILE_ID, "ana", (LAST,), ((SECOND, SECOND + 9, "YAK"), (LAST, LAST + 7, "ZED"))))
        with corpus.journal("ben", writable=True) as journal:
            journal.append(record(HOSTILE_ID, "ben", (), ((SECOND, SECOND + 9, "ZED"), (LAST, LAST + 7, "ZED"))))
        alone = agreement(corpus, processes=1)
        shared = agreement(corpus, processes=2)
    assert shared.labels == alone.labels == ["PERSON", "ORG", "GPE", "LOC", "NORP", "FAC", "EVENT", "ZED", "YAK"]
    assert shared.to_json() == alone.to_json()
    assert shared.entity_pairs[0].token_kappa is not None
    assert shared.ranking == alone.ranking
    assert (shared.confusion() == alone.confusion()).all()


def test_records_of_changed_text_are_left_out_and_hostile_labels_escaped(tmp_path):
    directory = make_corpus(tmp_path)
    with Corpus.open(directory) as corpus:
        with corpus.journal("cy", writable=True) as journal:
            # A record made for a longer text, and an entity label that is not a corpus label.
            longer = record("s2", "cy", entities=((SECOND, SECOND + 9, "[bold]X\x1b"),)).model_dump()
            longer["stories"][-1]["end"] += 5
            journal.append(Annotation.model_validate(longer))
            journal.append(record(HOSTILE_ID, "cy", entities=((SECOND, SECOND + 9, "[bold]X\x1b"),)))
        report = agreement(corpus)
    assert report.stale == {"cy": ["s2"]}
    assert [(p.a, p.b, p.n) for p in report.boundary_pairs] == [("ana", "ben", 3), ("ana", "cy", 2), ("ben", "cy", 2)]
    buffer = io.StringIO()
    Console(file=buffer, width=80, color_system=None).print(render(report))
    output = buffer.getvalue()
    assert "left out 1 record(s) of cy whose snippet text changed: s2" in output
    assert "[bold]X\\x1b" in output and "\x1b" not in output


def test_a_record_of_another_text_of_the_same_length_is_left_out_and_not_counted(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "s1", "text": TEXT}) + "\n" + json.dumps({"id": "s2", "text": TEXT}) + "\n")
    ingest([source], tmp_path / "c")
    same_length = TEXT.replace("harbour", "harbors")
    assert len(same_length) == len(TEXT)
    with Corpus.open(tmp_path / "c") as corpus:
        for name in ("ana", "ben"):
            with corpus.journal(name, writable=True) as journal:
                journal.append(record("s1", name, (LAST,)).model_copy(update={"text_sha256": text_sha256(TEXT)}))
                sha = text_sha256(same_length if name == "ben" else TEXT)  # ben annotated an earlier wording of s2
                journal.append(record("s2", name, (LAST,)).model_copy(update={"text_sha256": sha}))
        report = agreement(corpus)
    assert report.stale == {"ben": ["s2"]}
    assert report.snippets == 1
    assert [(p.a, p.b, p.n) for p in report.boundary_pairs] == [("ana", "ben", 1)]


def test_an_annotator_without_a_shared_done_snippet_is_left_out_of_pairs_and_says_why(tmp_path):
    directory = make_corpus(tmp_path)
    with Corpus.open(directory) as corpus:
        with corpus.journal("dee", writable=True) as journal:
            journal.append(record("s1", "dee", status="skipped"))  # a journal, no done snippet
        report = agreement(corpus)
    assert report.annotators == ["ana", "ben", "cy"]
    assert report.left_out == {"dee": "no done snippet that another annotator also did"}
    assert all("dee" not in (pair.a, pair.b) for pair in [*report.boundary_pairs, *report.entity_pairs, *report.boilerplate_pairs])
    assert all(pair.n > 0 for pair in [*report.boundary_pairs, *report.entity_pairs])
    result = runner.invoke(app, ["agreement", str(directory), "--json"])
    data = json.loads(result.stdout)
    assert data["annotators"] == ["ana", "ben", "cy"] and list(data) == ["annotators", "snippets", "boundaries", "entities"]
    result = runner.invoke(app, ["agreement", str(directory)], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    assert "dee ·" not in result.output and "· dee" not in result.output
    assert "left out dee: no done snippet that another annotator also did" in result.output


def test_a_pair_that_shares_no_done_snippet_shows_no_figures(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": sid, "text": TEXT}) + "\n" for sid in ("s1", "s2")))
    ingest([source], tmp_path / "c")
    with Corpus.open(tmp_path / "c") as corpus:
        for name, ids in {"ana": ["s1"], "ben": ["s1", "s2"], "cy": ["s2"]}.items():
            with corpus.journal(name, writable=True) as journal:
                for sid in ids:
                    journal.append(record(sid, name))
        report = agreement(corpus)
    assert report.annotators == ["ana", "ben", "cy"] and report.left_out == {}
    assert [(pair.a, pair.b, pair.n) for pair in report.entity_pairs] == [("ana", "ben", 1), ("ben", "cy", 1)]
    assert [(pair.a, pair.b) for pair in report.boundary_pairs] == [("ana", "ben"), ("ben", "cy")]
    assert [(pair.a, pair.b) for pair in report.boilerplate_pairs] == [("ana", "ben"), ("ben", "cy")]
    assert report.unshared == [("ana", "cy")]
    text = io.StringIO()
    Console(file=text, width=80).print(render(report))
    assert "ana · cy: no snippet both did, no figures" in text.getvalue()


def test_the_report_file_names_who_was_left_out(tmp_path):
    directory = make_corpus(tmp_path)
    with Corpus.open(directory) as corpus:
        with corpus.journal("dee", writable=True) as journal:
            journal.append(record("s1", "dee", status="flagged"))
    result = runner.invoke(app, ["agreement", str(directory), "--report", str(tmp_path / "out.md")])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "out.md").read_text()
    assert "Left out dee: no done snippet that another annotator also did." in page
    assert "Annotators: ana, ben, cy." in page


def test_damaged_journal_lines_are_named_on_stderr_and_left_out(tmp_path):
    directory = make_corpus(tmp_path)
    clean = runner.invoke(app, ["agreement", str(directory), "--json"])
    assert clean.exit_code == 0 and "damaged" not in clean.stderr
    journal = directory / "annotations" / "ben.jsonl"
    with journal.open("a", encoding="utf-8") as handle:
        handle.write('{"snippet_id": "s1", "annotator": "ben", "stories": [{"start": 5, "end": 2}], "status": "done"}\n')
        handle.write("not json \x1b[31m at all\n")
    result = runner.invoke(app, ["agreement", str(directory), "--json"])
    assert result.exit_code == 0 and "Traceback" not in result.output
    assert json.loads(result.stdout) == json.loads(clean.stdout)  # the damaged lines change no figure
    shown = result.stderr.splitlines()
    assert shown[0].startswith("2 damaged line(s) in the compared journals")
    assert shown[1].startswith(f"{journal}:4: ") and "end 2 must be greater than start 5" in shown[1]
    assert shown[2].startswith(f"{journal}:5: ")
    assert "\x1b" not in result.stderr
