"""The ingest, validate, stats and compact commands, driven through the real CLI."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from curate.cli import app
from curate.model import Annotation
from curate.store import Corpus

SHARED = Path("/work/shared")
SEED = SHARED / "seeds" / "000_43b149b2d09b88e5.txt"
REUTERS = SHARED / "bench" / "reuters-pages-dev"
needs_shared = pytest.mark.skipif(not REUTERS.exists() or not SEED.exists(), reason="needs the shared benchmark data")

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(arg) for arg in args])


@pytest.mark.parametrize("command, options", [
    ("ingest", ["--corpus", "--labels", "--text-field", "--id-field", "--skip-invalid"]),
    ("validate", ["--corpus"]),
    ("stats", []),
    ("compact", []),
])
def test_every_command_and_option_has_help(command, options):
    result = invoke(command, "--help")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    for option in options:
        described = [line for line in lines if option in line]
        assert described and any(len(line.split(option, 1)[1].strip()) > 10 for line in described), option


@needs_shared
def test_the_seed_page_is_ingested_byte_exact(tmp_path):
    result = invoke("ingest", SEED, "--corpus", tmp_path / "s")
    assert result.exit_code == 0, result.output
    assert "1 snippet(s) added" in result.output
    assert Corpus.open(tmp_path / "s").snippet(0).text.encode("utf-8") == SEED.read_bytes()


@needs_shared
def test_reuters_pages_ingest_with_labels_then_gold_validates(tmp_path):
    result = invoke("ingest", REUTERS / "snippets.jsonl", "--corpus", tmp_path / "r", "--labels", "PER,ORG,LOC,MISC")
    assert result.exit_code == 0, result.output
    assert "55 snippet(s) added" in result.output
    result = invoke("validate", REUTERS / "gold.jsonl", "--corpus", tmp_path / "r")
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("gold.jsonl: ok")
    # The same gold against the default labels fails, naming file and line.
    invoke("ingest", REUTERS / "snippets.jsonl", "--corpus", tmp_path / "d")
    result = invoke("validate", REUTERS / "gold.jsonl", "--corpus", tmp_path / "d")
    assert result.exit_code == 1
    assert f"{REUTERS / 'gold.jsonl'}:1: entity [10,24) has label 'ORG'" not in result.output
    assert f"{REUTERS / 'gold.jsonl'}:1: entity [65,71) has label 'LOC'" not in result.output
    assert f"{REUTERS / 'gold.jsonl'}:1: entity [107,119) has label 'PER', not one of" in result.output


def test_a_refused_ingest_prints_file_line_reasons_and_writes_nothing(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "a", "text": "x"}\n{"id": "a", "text": "y"}\n{"id": "b", "text": ""}\n')
    result = invoke("ingest", source, "--corpus", tmp_path / "c")
    assert result.exit_code == 1
    assert f"{source}:2: duplicate id 'a' (first at {source}:1)" in result.output
    assert f"{source}:3: empty text" in result.output
    assert "ingest refused: 2 problem(s); nothing was written" in result.output
    assert not (tmp_path / "c").exists()
    result = invoke("ingest", source, "--corpus", tmp_path / "c", "--skip-invalid")
    assert result.exit_code == 0
    assert f"skipped {source}:2: duplicate id 'a'" in result.output
    assert "1 snippet(s) added" in result.output and "2 skipped" in result.output


def make_corpus(tmp_path, texts):
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": key, "text": text}) + "\n" for key, text in texts.items()))
    assert invoke("ingest", source, "--corpus", tmp_path / "c").exit_code == 0
    return Corpus.open(tmp_path / "c")


def annotation(corpus, snippet_id, status, annotator):
    text = corpus.snippet_by_id(snippet_id).text
    return Annotation(snippet_id=snippet_id, annotator=annotator, stories=[{"start": 0, "end": len(text)}], status=status)


def test_stats_counts_statuses_and_lists_damaged_lines_as_file_line(tmp_path):
    corpus = make_corpus(tmp_path, {"a": "One.", "b": "Two words.", "c": "Three"})
    with corpus.journal("alice", writable=True) as journal:
        journal.append(annotation(corpus, "a", "done", "alice"))
        journal.append(annotation(corpus, "b", "skipped", "alice"))
        journal.append(annotation(corpus, "c", "flagged", "alice"))
    with corpus.journal("bob", writable=True) as journal:
        journal.append(annotation(corpus, "a", "done", "bob"))
    with open(corpus.journal_path("bob"), "ab") as handle:
        handle.write(b'{"snippet_id": "b", "annot')
    result = invoke("stats", corpus.path)
    assert result.exit_code == 0, result.output
    assert "3 snippets, 19 characters, 0 with suggestions, 0 gold" in result.output
    rows = {line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:-1]] for line in result.output.splitlines() if line.startswith("│")}
    assert rows == {"alice": ["1", "1", "1", "0", "0", "0"], "bob": ["1", "0", "0", "0", "1", "0"]}
    assert f"{corpus.journal_path('bob')}:2: torn last line (an interrupted write); skipped" in result.output


def test_compact_rewrites_journals_and_reports_a_locked_one(tmp_path):
    corpus = make_corpus(tmp_path, {"a": "One.", "b": "Two."})
    with corpus.journal("alice", writable=True) as journal:
        for status in ("skipped", "flagged", "done"):
            journal.append(annotation(corpus, "a", status, "alice"))
    result = invoke("compact", corpus.path)
    assert result.exit_code == 0, result.output
    assert f"{corpus.journal_path('alice')}: 3 -> 1 lines" in result.output
    assert Annotation.model_validate_json(corpus.journal_path("alice").read_text()).status == "done"
    with corpus.journal("alice", writable=True):
        result = invoke("compact", corpus.path)
    assert result.exit_code == 1
    assert "alice.jsonl is open for writing in another curate process" in result.output


def test_validate_never_prints_raw_control_characters(tmp_path):
    corpus = make_corpus(tmp_path, {"a": "Evil\x1b[2J text"})
    path = tmp_path / "alice.jsonl"
    record = annotation(corpus, "a", "done", "alice").model_dump()
    record["entities"] = [{"start": 2, "end": 7, "label": "ORG"}]
    path.write_text(json.dumps(record) + "\n")
    result = invoke("validate", path, "--corpus", corpus.path)
    assert result.exit_code == 1
    assert "\x1b" not in result.output
    assert "'il\\x1b[2' does not start and end on token edges" in result.output


def test_missing_corpus_and_file_are_clear_errors(tmp_path):
    result = invoke("stats", tmp_path / "nothing")
    assert result.exit_code == 1 and "no such corpus folder" in result.output
    result = invoke("validate", tmp_path / "none.jsonl")
    assert result.exit_code == 1 and "none.jsonl: no such file" in result.output
    result = invoke("validate", tmp_path)
    assert result.exit_code == 1 and f"{tmp_path}: is a folder" in result.output


def test_hostile_file_names_and_journals_reach_the_terminal_escaped(tmp_path):
    evil = tmp_path / "page\x1b[2J\x07.txt"
    evil.write_bytes(b"text \xff")
    result = invoke("ingest", evil, "--corpus", tmp_path / "c")
    assert result.exit_code == 1
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "page\\x1b[2J\\x07.txt:1: invalid UTF-8" in result.output
    corpus = make_corpus(tmp_path, {"a": "One."})
    (corpus.annotations_dir).mkdir()
    (corpus.annotations_dir / "\x1b[31mevil.jsonl").write_text("{}\n")
    result = invoke("stats", corpus.path)
    assert result.exit_code == 0 and "\x1b" not in result.output and "no annotators yet" in result.output


def test_stderr_of_a_refused_ingest_starts_with_the_first_problem(tmp_path):
    import subprocess
    import sys

    empty = tmp_path / "empty.txt"
    empty.write_text("")
    finished = subprocess.run([sys.executable, "-m", "curate.cli", "ingest", str(empty), "--corpus", str(tmp_path / "c")], capture_output=True, text=True)
    assert finished.returncode == 1
    assert finished.stderr.splitlines()[0] == f"{empty}:1: empty text"


def test_stats_counts_records_whose_snippet_text_changed(tmp_path):
    corpus = make_corpus(tmp_path, {"a": "One.", "b": "Two words.", "c": "Three"})
    with corpus.journal("alice", writable=True) as journal:
        journal.append(annotation(corpus, "a", "done", "alice"))
        longer = annotation(corpus, "b", "done", "alice").model_dump()
        longer["stories"][-1]["end"] += 3  # saved for a longer text
        journal.append(Annotation.model_validate(longer))
        same_length = annotation(corpus, "c", "done", "alice").model_copy(update={"text_sha256": "0" * 64})
        journal.append(same_length)  # saved for another text of the same length
    with corpus.journal("bob", writable=True) as journal:
        journal.append(annotation(corpus, "a", "done", "bob").model_copy(update={"text_sha256": __import__("curate.model").model.text_sha256("One.")}))
    result = invoke("stats", corpus.path)
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:-1]] for line in result.output.splitlines() if line.startswith("│")}
    assert rows["alice"][-1] == "2" and rows["bob"][-1] == "0"
    assert "2 record(s) of alice were saved for a snippet text that has changed since (export leaves them out): b, c" in result.output
    assert "of bob were saved" not in result.output



def test_an_id_field_no_record_has_is_refused_and_a_partly_missing_one_warned(tmp_path):
    none = tmp_path / "none.jsonl"
    none.write_text('{"text": "a b", "title": "A"}\n{"text": "c d"}\n')
    result = invoke("ingest", none, "--corpus", tmp_path / "c", "--id-field", "uid")
    assert result.exit_code == 1
    assert f"{none}:1: --id-field 'uid': no record has this field (fields of this one: text, title)" in result.output
    assert "nothing was written" in result.output and "--skip-invalid" not in result.output
    assert not (tmp_path / "c").exists()
    some = tmp_path / "some.jsonl"
    some.write_text('{"text": "a b", "uid": "x1"}\n{"text": "c d"}\n')
    result = invoke("ingest", some, "--corpus", tmp_path / "c", "--id-field", "uid")
    assert result.exit_code == 0, result.output
    assert f"warning: --id-field 'uid': 1 record(s) lack the field and got FILE-LINE ids (first: {some}:2, fields: text)" in result.output
    with Corpus.open(tmp_path / "c") as corpus:
        assert [corpus.snippet(position).id for position in range(len(corpus))] == ["x1", "some-000002"]


def test_a_missing_input_is_named_plainly(tmp_path):
    result = invoke("ingest", tmp_path / "nope.jsonl", "--corpus", tmp_path / "c")
    assert result.exit_code == 1
    assert f"{tmp_path / 'nope.jsonl'}: no such file or folder" in result.output
    assert "ingest refused: 1 input(s) not found; nothing was written" in result.output
    assert "--skip-invalid" not in result.output


def test_version_and_flags_without_a_type(tmp_path):
    from importlib.metadata import version

    result = invoke("--version")
    assert result.exit_code == 0 and result.output.strip() == f"curate {version('curate')}"
    for command in ("ingest", "review", "export", "import", "suggest", "agreement", "gold", "publish"):
        result = invoke(command, "--help")
        assert result.exit_code == 0
        assert "<bool>" not in result.output, command
    flag_lines = [line for line in invoke("ingest", "--help").output.splitlines() if "--skip-invalid" in line]
    assert flag_lines and "<" not in flag_lines[0]


@pytest.mark.parametrize("split", ["../victim", "/abs/path", "a/../../b"])
def test_a_corpus_toml_whose_split_names_are_paths_is_refused_when_read(tmp_path, split):
    corpus = make_corpus(tmp_path, {"a": "One."})
    config = corpus.path / "corpus.toml"
    text = config.read_text()
    assert "\ntrain = 0.8\n" in text
    config.write_text(text.replace("\ntrain = 0.8\n", f'\n"{split}" = 0.8\n'))
    for command in (["stats", corpus.path], ["validate", corpus.path / "snippets.jsonl", "--corpus", corpus.path]):
        result = invoke(*command)
        assert result.exit_code == 1
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in result.output
        line = config.read_text().splitlines().index(f'"{split}" = 0.8') + 1
        assert lines[0].startswith(f"error: {config}:{line}: splits: '{split}' is not allowed as a file name")


def test_usage_lines_name_arguments_by_metavar_without_braces():
    import typer.main

    commands = typer.main.get_command(app).commands
    assert {"ingest", "validate", "stats", "compact", "annotate", "review", "gold", "suggest", "agreement", "export", "import", "publish"} <= set(commands)
    argument = {"ingest": "PATH...", "validate": "FILE", "import": "FILE"}
    for name in commands:
        result = runner.invoke(app, [name, "--help"], env={"COLUMNS": "200"}, prog_name="curate")
        assert result.exit_code == 0, (name, result.output)
        assert "{" not in result.output, (name, result.output)
        usage = next(line.strip() for line in result.output.splitlines() if "Usage:" in line)
        assert usage == f"Usage: curate {name} [OPTIONS] {argument.get(name, 'DIR')}", usage
    result = invoke("stats")
    assert result.exit_code == 2 and "Missing argument 'DIR'" in result.output
    ingest_help = runner.invoke(app, ["ingest", "--help"], env={"COLUMNS": "200"}).output
    assert any("--corpus" in line and " DIR " in line for line in ingest_help.splitlines())


def readme_block(number):
    import re

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    return re.findall(r"^```bash\n(.*?)^```", readme, flags=re.S | re.M)[number - 1].splitlines()


def test_the_readme_round_trip_works_on_a_copy_and_leaves_the_checkout_alone(tmp_path):
    import subprocess

    root = Path(__file__).resolve().parents[2]
    lines = readme_block(3)
    assert lines[0].startswith("rm -rf /tmp/demo && cp -r corpora/demo /tmp/demo")
    assert all("corpora/demo" not in line for line in lines[1:]) and all("/tmp/demo" in line for line in lines)
    tracked = {path: path.read_bytes() for path in (root / "corpora" / "demo").iterdir() if path.is_file()}
    copy, out = tmp_path / "demo", tmp_path / "demo-hf"
    outputs = []
    for line in lines:
        command = line.split("#")[0].strip().replace("/tmp/demo-hf", str(out)).replace("/tmp/demo", str(copy))
        if " annotate " in command or " review " in command:
            continue  # the two UIs; their records are written below as two editors who accept every suggestion
        if " agreement " in command:
            with Corpus.open(copy) as corpus:
                with corpus.suggestions() as suggestions:
                    proposed = list(suggestions.records())
                for name in ("ana", "ben"):
                    with corpus.journal(name, writable=True) as journal:
                        journal.append_many(record.model_copy(update={"annotator": name, "status": "done"}) for record in proposed)
            assert invoke("gold", copy).exit_code == 0
        result = subprocess.run(["bash", "-c", command], cwd=root, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, (command, result.stdout, result.stderr)
        outputs.append(result.stdout)
    assert "28 suggestion(s) written" in outputs[1]  # --redo really suggests again
    assert "2 annotators" in outputs[2]
    assert (out / "README.md").exists()
    assert {path: path.read_bytes() for path in (root / "corpora" / "demo").iterdir() if path.is_file()} == tracked
