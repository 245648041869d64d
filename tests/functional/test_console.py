"""`curate.console`: the one place that makes foreign text terminal-safe, draws progress bars
and splits comma-separated names; and the commands that use it."""

from __future__ import annotations

import json
import tomllib

from typer.testing import CliRunner

from curate.cli import app
from curate.console import markup_safe, record_progress, split_names, terminal_safe
from curate.ingest import ingest
from curate.model import Annotation
from curate.store import Corpus

runner = CliRunner()

TEXT = "Council votes on the harbour.\nAna Lopez said the plan is late."
HOSTILE_ID = "s\x1b]0;owned\x07"


def test_terminal_safe_escapes_every_unsafe_character_and_keeps_the_rest():
    hostile = "a\x1b[2Jb\x07c\u202ed\u200be\u2028f\u2029g\ue000h\ud800i\x7fj\x85k"
    assert terminal_safe(hostile) == "a\\x1b[2Jb\\x07c\\u202ed\\u200be\\u2028f\\u2029g\\ue000h\\ud800i\\x7fj\\x85k"
    assert terminal_safe("Zoë café 中文 🇩🇪 [bold]") == "Zoë café 中文 🇩🇪 [bold]"
    assert terminal_safe(3.5) == "3.5"


def test_terminal_safe_keeps_one_message_on_one_line_unless_multiline():
    assert terminal_safe("file:1: bad\nerror: forged\tline") == "file:1: bad\\nerror: forged\\tline"
    assert terminal_safe("# card\n\n| a\t| b |\x1b[31m\n", multiline=True) == "# card\n\n| a\t| b |\\x1b[31m\n"


def test_markup_safe_escapes_rich_markup_after_control_characters():
    assert markup_safe("[red]x\x1b") == "\\[red]x\\x1b"


def test_split_names_drops_empty_names_and_spaces():
    assert split_names("ana,,ben, ") == ["ana", "ben"]
    assert split_names(" ana ") == ["ana"]
    assert split_names(None) is None
    assert split_names("") is None


def test_record_progress_is_off_without_a_terminal_and_its_callback_runs():
    progress, advance = record_progress("exporting", 300)
    with progress:
        for count in range(1, 301):
            advance(count)
    assert progress.disable  # CliRunner and pytest's stderr are no terminal
    assert progress.tasks[0].completed == 300


def record(snippet_id, annotator, entities=()):
    return Annotation.model_validate({
        "snippet_id": snippet_id, "annotator": annotator, "status": "done",
        "stories": [{"start": 0, "end": len(TEXT)}],
        "entities": [{"start": s, "end": e, "label": label} for s, e, label in entities],
    })


def two_annotators(tmp_path, ids=("s1", "s2")):
    """A corpus where ana and ben both finished every snippet; on s1 they agree, elsewhere not."""
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": sid, "text": TEXT}) + "\n" for sid in ids))
    ingest([source], tmp_path / "c")
    with Corpus.open(tmp_path / "c") as corpus:
        for name, label in (("ana", "PERSON"), ("ben", "ORG")):
            with corpus.journal(name, writable=True) as journal:
                for sid in ids:
                    journal.append(record(sid, name, [] if sid == "s1" else [(30, 39, label)]))
    return tmp_path / "c"


def test_every_list_option_ignores_empty_names(tmp_path, monkeypatch):
    """`ana,,ben, ` names ana and ben in every command that takes a list (gold used to look
    for an annotator called '')."""
    source = tmp_path / "one.jsonl"
    source.write_text(json.dumps({"id": "x", "text": TEXT}) + "\n")
    result = runner.invoke(app, ["ingest", str(source), "--corpus", str(tmp_path / "labelled"), "--labels", "PER,,ORG, "])
    assert result.exit_code == 0, result.output
    config = tomllib.loads((tmp_path / "labelled" / "corpus.toml").read_text())
    assert [label["name"] for label in config["labels"]] == ["PER", "ORG"]

    directory = two_annotators(tmp_path)
    result = runner.invoke(app, ["gold", str(directory), "--annotators", "ana,,ben, "])
    assert result.exit_code == 0, result.output
    assert "1 snippet(s) merged" in result.output and "1 left for review" in result.output

    result = runner.invoke(app, ["agreement", str(directory), "--annotators", "ana,,ben, ", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["annotators"] == ["ana", "ben"]

    import curate.cli

    monkeypatch.setattr(curate.cli, "require_terminal", lambda command: None)
    opened = []
    monkeypatch.setattr("curate.tui.app.ReviewApp.run", lambda self: opened.append(self.opener()))  # the desk, as the app's worker opens it
    result = runner.invoke(app, ["review", str(directory), "--adjudicator", "judge", "--annotators", "ana,,ben, "])
    assert result.exit_code == 0, result.output
    assert len(opened) == 1 and len(opened[0]) == 1  # s2, where ana and ben disagree
    opened[0].close()


def test_gold_escapes_the_ids_it_leaves_for_review(tmp_path):
    directory = two_annotators(tmp_path, ids=("s1", HOSTILE_ID))
    result = runner.invoke(app, ["gold", str(directory)])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "review s\\x1b]0;owned\\x07:" in result.output


def test_import_problems_with_a_line_break_stay_on_one_line(tmp_path):
    """A label from a foreign file cannot start a forged line of its own (export, import and
    publish messages used to keep line breaks)."""
    directory = two_annotators(tmp_path)
    source = tmp_path / "hostile.jsonl"
    source.write_text(json.dumps({"text": TEXT, "label": [[0, 7, "EVIL\nerror: forged"]]}) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["import", str(source), "--format", "doccano", "--corpus", str(directory), "--annotator", "cy"])
    assert result.exit_code == 1
    assert "EVIL\\nerror: forged" in result.output
    assert not any(line.startswith("error: forged") for line in result.output.splitlines())
