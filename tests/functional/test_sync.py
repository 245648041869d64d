"""`curate sync` with real git: bare remotes in temporary folders, two and three clones, syncs at
the same moment, a sync killed at several points and run again, offline remotes, the
snippets.jsonl conflict, journal unions with overlap and gold merged by the later accept.

Nothing is mocked. Git runs without any global or system configuration (as on CI), so every
commit uses sync's fallback identity unless a test configures one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from git_env import GIT, git, without_git_configuration

from curate.ingest import ingest
from curate.model import Annotation, GoldAnnotation
from curate.store import Corpus, CorpusLayout, journal_lines
from curate.sync import SyncConflict, SyncError, sync

pytestmark = pytest.mark.skipif(GIT is None, reason="curate sync needs the git command")  # CI installs it

TEXTS = {
    "s1": "Floods close Leeds station.\nMayor Ann Lee visits York today.",
    "s2": "Storm hits Dover.\nPhoto: J. Roe/AP\nFerries wait in Calais.",
    "s3": "Markets rise in Tokyo.\nThe yen falls against the dollar.",
    "s4": "Rain in Paris.\nThe Seine rises near the Louvre.",
}
CURATE = [sys.executable, "-c", "from curate.cli import app; app()"]


@pytest.fixture(autouse=True)
def bare_git(tmp_path, monkeypatch):
    without_git_configuration(tmp_path, monkeypatch)



def new_team(tmp_path: Path, clones: int = 2, texts: dict[str, str] = TEXTS) -> tuple[Path, list[Path]]:
    """A bare remote holding a corpus pushed by the first machine, and `clones` working copies."""
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": key, "text": text}) + "\n" for key, text in texts.items()))
    remote = tmp_path / "team.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    first = tmp_path / "machine1"
    ingest([source], first)
    sync(first, remote_url=str(remote))
    folders = [first]
    for number in range(2, clones + 1):
        folder = tmp_path / f"machine{number}"
        git(tmp_path, "clone", "-q", str(remote), str(folder))
        folders.append(folder)
    return remote, folders


def save(folder: Path, annotator: str, snippet_id: str, *, at: str = "2026-12-07T10:00:00Z", note: str | None = None, entity: str | None = None) -> bytes:
    """Save one done record through the store (as the annotation screen does); returns its line."""
    with Corpus.open(folder) as corpus:
        text = corpus.snippet_by_id(snippet_id).text
        entities = []
        if entity is not None:
            start = text.index(entity)
            entities = [{"start": start, "end": start + len(entity), "label": "GPE"}]
        record = Annotation(snippet_id=snippet_id, annotator=annotator, stories=[{"start": 0, "end": len(text)}], entities=entities, status="done", note=note, updated_at=at)
        with corpus.journal(annotator, writable=True) as journal:
            journal.append(record)
    return record.model_dump_json().encode() + b"\n"


def lines_of(folder: Path, annotator: str) -> list[bytes]:
    return journal_lines(CorpusLayout(folder).journal(annotator).read_bytes())


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CURATE, *map(str, args)], capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=120)


def clean(folder: Path) -> bool:
    return git(folder, "status", "--porcelain") == ""


# ---------------------------------------------------------------- two and three clones


def test_two_clones_exchange_their_journals_and_the_fresh_clone_opens_indexed(tmp_path):
    remote, (one, two) = new_team(tmp_path)
    ana = save(one, "ana", "s1", entity="Leeds")
    ben = save(two, "ben", "s1", entity="York")
    sync(one)
    report = sync(two)
    assert report.committed and report.pushed and "annotations/ana.jsonl" in report.received
    sync(one)
    for folder in (one, two):
        assert lines_of(folder, "ana") == [ana] and lines_of(folder, "ben") == [ben]
        assert clean(folder)
        layout = CorpusLayout(folder)
        # sync leaves the indexes current: opening the corpus and its journals rewrites none of them
        indexes = [layout.snippet_index_meta, layout.snippet_texts, layout.journal_index(layout.journal("ana")), layout.journal_index(layout.journal("ben"))]
        before = [path.stat().st_mtime_ns for path in indexes]
        with Corpus.open(folder) as corpus:
            corpus.text_facts()
            for name in ("ana", "ben"):
                corpus.journal(name).close()
        assert [path.stat().st_mtime_ns for path in indexes] == before
    assert git(one, "rev-parse", "HEAD") == git(two, "rev-parse", "HEAD") == git(remote, "rev-parse", "main")
    # .curate/ and models/ never reach git
    assert not [path for path in git(remote, "ls-tree", "-r", "--name-only", "main").splitlines() if path.startswith((".curate", "models"))]
    # no identity was configured anywhere: sync's fallback made the commits
    assert git(two, "log", "-1", "--format=%an").startswith("curate")


def test_three_clones_union_of_one_annotator_working_on_two_machines(tmp_path):
    _, (one, two, three) = new_team(tmp_path, clones=3)
    shared = save(one, "ana", "s1", at="2026-12-07T10:00:00Z")
    sync(one)
    sync(two)
    sync(three)
    # ana goes on on two machines; cy on a third; the same record reaches two machines twice over
    later = save(two, "ana", "s2", at="2026-12-07T10:05:00Z", note="laptop, later")
    earlier = save(three, "ana", "s2", at="2026-12-07T10:01:00Z", note="server, earlier")
    only_three = save(three, "ana", "s3", at="2026-12-07T10:02:00Z")
    cy = save(three, "cy", "s4")
    for folder in (two, three, one, two, three):
        sync(folder)
    expected = {shared, later, earlier, only_three}
    for folder in (one, two, three):
        lines = lines_of(folder, "ana")
        assert set(lines) == expected and max(Counter(lines).values()) == 1  # none lost, none doubled
        assert lines_of(folder, "cy") == [cy]
        with Corpus.open(folder) as corpus:
            assert corpus.journal("ana").latest("s2").note == "laptop, later"  # the later save wins
        assert clean(folder)


def gold_record(snippet_id: str, adjudicator: str, at: str, text: str) -> GoldAnnotation:
    return GoldAnnotation(snippet_id=snippet_id, annotator=adjudicator, adjudicator=adjudicator, sources=["ana", "ben"], stories=[{"start": 0, "end": len(text)}], status="done", updated_at=at)


def test_gold_accepted_on_two_machines_merges_by_the_later_accept(tmp_path):
    _, (one, two) = new_team(tmp_path)
    with Corpus.open(one) as corpus:
        corpus.gold().put(gold_record("s1", "cy", "2026-12-07T11:00:00Z", TEXTS["s1"]), gold_record("s2", "cy", "2026-12-07T11:00:00Z", TEXTS["s2"]))
    sync(one)
    sync(two)
    with Corpus.open(one) as corpus:
        corpus.gold().put(gold_record("s1", "cy", "2026-12-07T12:00:00Z", TEXTS["s1"]))  # later than two's
    with Corpus.open(two) as corpus:
        corpus.gold().put(gold_record("s1", "dee", "2026-12-07T11:30:00Z", TEXTS["s1"]), gold_record("s2", "dee", "2026-12-07T11:45:00Z", TEXTS["s2"]), gold_record("s4", "dee", "2026-12-07T11:50:00Z", TEXTS["s4"]))
    sync(one)
    report = sync(two)
    assert "gold.jsonl" in report.merged
    sync(one)
    for folder in (one, two):
        with Corpus.open(folder) as corpus:
            gold = corpus.gold()
            assert {key: record.adjudicator for key, record in gold.records.items()} == {"s1": "cy", "s2": "dee", "s4": "dee"}
            assert gold.problems == []
        ids = [json.loads(line)["snippet_id"] for line in CorpusLayout(folder).gold.read_bytes().splitlines()]
        assert ids == ["s1", "s2", "s4"]  # corpus order


# ---------------------------------------------------------------- what sync refuses


def test_snippets_changed_on_both_sides_stop_sync_naming_it_with_the_tree_untouched(tmp_path):
    _, (one, two) = new_team(tmp_path)
    for folder, key in ((one, "n1"), (two, "n2")):
        extra = tmp_path / f"{key}.jsonl"
        extra.write_text(json.dumps({"id": key, "text": f"New page {key}."}) + "\n")
        ingest([extra], folder)
    save(two, "ben", "s1")
    sync(one)
    snippets_before = CorpusLayout(two).snippets.read_bytes()
    result = run_cli("sync", two)
    assert result.returncode != 0
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1 and "snippets.jsonl" in message and "cannot merge" in message and "Traceback" not in message
    assert CorpusLayout(two).snippets.read_bytes() == snippets_before
    assert not (two / ".git" / "MERGE_HEAD").exists() and clean(two)
    assert git(two, "log", "-1", "--format=%s").startswith("curate sync: work")  # ben's work is committed here
    with pytest.raises(SyncConflict, match="snippets.jsonl"):
        sync(two)


@pytest.mark.parametrize("url", ["{tmp}/no/such/remote.git", "http://127.0.0.1:9/corpus.git"])
def test_an_unreachable_remote_is_one_line_and_annotating_goes_on(tmp_path, url):
    _, (one, _two) = new_team(tmp_path)
    git(one, "remote", "set-url", "origin", url.format(tmp=tmp_path))
    save(one, "ana", "s1")
    result = run_cli("sync", one)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the remote origin" in lines[0] and "Traceback" not in result.stderr
    assert "does not appear to be a git repository" in lines[0] or "Failed to connect" in lines[0]  # git's cause, not its generic last line
    assert git(one, "log", "-1", "--format=%s").startswith("curate sync: work")  # committed locally
    save(one, "ana", "s2")  # annotating goes on
    assert len(lines_of(one, "ana")) == 2


def test_a_journal_being_written_is_committed_up_to_its_last_whole_line(tmp_path):
    remote, (one, two) = new_team(tmp_path)
    first = save(one, "ana", "s1")
    with Corpus.open(one) as corpus, corpus.journal("ana", writable=True):
        # an annotate session holds ana's journal, and an append is in flight
        with open(CorpusLayout(one).journal("ana"), "ab") as handle:
            handle.write(b'{"snippet_id":"s2","annot')
        report = sync(one)
        assert report.busy == ["annotations/ana.jsonl"]
        assert git(remote, "show", "main:annotations/ana.jsonl").encode() + b"\n" == first
        # the remote gets new records of ana (ana on another machine): sync will not replace the file under the session
        sync(two)
        save(two, "ana", "s3", at="2026-12-07T10:09:00Z")
        sync(two)
        with pytest.raises(SyncError, match="annotations/ana.jsonl is open for writing in another curate process"):
            sync(one)
    # the session closed (and repaired its torn tail on the next open): sync goes through
    save(one, "ana", "s4", at="2026-12-07T10:10:00Z")
    sync(one)
    assert {json.loads(line)["snippet_id"] for line in lines_of(one, "ana")} == {"s1", "s3", "s4"}


def test_a_second_sync_in_the_same_folder_is_refused_at_once(tmp_path):
    from filelock import FileLock

    _, (one, _two) = new_team(tmp_path)
    with FileLock(str(CorpusLayout(one).sync_lock)):
        with pytest.raises(SyncError, match="another curate sync is running in"):
            sync(one)


def test_gitignore_is_written_by_ingest_and_extended_by_sync(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "a", "text": "One page."}) + "\n")
    ingest([source], tmp_path / "fresh")
    ignored = CorpusLayout(tmp_path / "fresh").gitignore.read_text().splitlines()
    assert "/.curate/" in ignored and "/models/" in ignored
    folder = tmp_path / "old"
    ingest([source], folder)
    CorpusLayout(folder).gitignore.write_text("notes.txt")  # an older corpus's own .gitignore, without curate's lines
    (folder / "models").mkdir()
    (folder / "models" / "learned.json").write_text("{}")
    remote = tmp_path / "team.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    sync(folder, remote_url=str(remote))
    kept = CorpusLayout(folder).gitignore.read_text().splitlines()
    assert kept[0] == "notes.txt" and "/.curate/" in kept and "/models/" in kept
    assert sorted(git(remote, "ls-tree", "-r", "--name-only", "main").splitlines()) == [".gitignore", "corpus.toml", "snippets.jsonl"]


def test_sync_registers_the_merge_drivers_paths_once_keeping_the_clones_own_attributes(tmp_path):
    _, (one, _two) = new_team(tmp_path)
    attributes = one / ".git" / "info" / "attributes"
    drivers = ["/annotations/*.jsonl merge=curate-journal", "/suggestions.jsonl merge=curate-journal", "/gold.jsonl merge=curate-gold"]
    assert attributes.read_text().splitlines() == drivers
    attributes.write_text(attributes.read_text().replace("/gold.jsonl merge=curate-gold\n", "") + "*.bin binary")  # the person's own line, no newline
    sync(one)
    sync(one)
    assert attributes.read_text().splitlines() == drivers[:2] + ["*.bin binary", drivers[2]]
    assert git(one, "config", "merge.curate-gold.driver").endswith("-m curate.merge_driver gold %O %A %B %P")


# ---------------------------------------------------------------- at the same moment, and killed


def test_syncs_started_at_the_same_moment_all_get_through(tmp_path):
    remote, folders = new_team(tmp_path, clones=3)
    saved = {name: save(folder, name, "s1") for name, folder in zip(("ana", "ben", "cy"), folders)}
    runs = [subprocess.Popen([*CURATE, "sync", str(folder)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for folder in folders]
    for run in runs:
        _, err = run.communicate(timeout=120)
        assert run.returncode == 0, err
    for folder in folders:
        sync(folder)
    for folder in folders:
        for name, line in saved.items():
            assert lines_of(folder, name) == [line]
        assert git(folder, "rev-parse", "HEAD") == git(remote, "rev-parse", "main")


KILLER = """#!/bin/sh
# Runs the real git, except that the Nth run of git subcommand $KILL_AT first SIGKILLs its parent (curate sync).
command=""
skip=0
for arg in "$@"; do
  if [ "$skip" = 1 ]; then skip=0; continue; fi
  case "$arg" in -c) skip=1 ;; -*) ;; *) command="$arg"; break ;; esac
done
if [ "$command" = "$KILL_AT" ]; then
  count=$(( $(cat "$KILL_COUNT" 2>/dev/null || echo 0) + 1 ))
  echo "$count" > "$KILL_COUNT"
  if [ "$count" = "$KILL_NTH" ]; then kill -9 "$PPID"; exit 137; fi
fi
exec "$REAL_GIT" "$@"
"""


# write-tree 1: while the local commit is built; update-ref 1: the local commit made, HEAD not
# moved; fetch: after it; hash-object 2: while merging; commit-tree 2: the merge made, no file
# written yet; read-tree 4: after the files, before the index (1 and 2 are the two local commits'
# temporary indexes, 3 the merge's); update-ref 2: before the branch moves; push: after the merge
# commit. (A stop between two merged files is test_sync_faults.py's: a failed write there.)
@pytest.mark.parametrize(
    "kill_at, nth",
    [("write-tree", 1), ("update-ref", 1), ("fetch", 1), ("hash-object", 2), ("commit-tree", 2), ("read-tree", 4), ("update-ref", 2), ("push", 1)],
)
def test_a_sync_killed_half_way_loses_nothing_when_run_again(tmp_path, kill_at, nth):
    remote, (one, two) = new_team(tmp_path)
    with Corpus.open(one) as corpus:
        corpus.gold().put(gold_record("s1", "cy", "2026-12-07T12:00:00Z", TEXTS["s1"]))
    ours = [save(two, "ben", key, at=f"2026-12-07T10:0{n}:00Z") for n, key in enumerate(("s1", "s2", "s3"))]
    theirs = [save(one, "ana", key) for key in ("s1", "s4")] + [save(one, "ben", "s4", at="2026-12-07T10:09:00Z")]
    sync(one)
    with Corpus.open(two) as corpus:
        corpus.gold().put(gold_record("s2", "dee", "2026-12-07T12:30:00Z", TEXTS["s2"]))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "git").write_text(KILLER)
    (bin_dir / "git").chmod(0o755)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "REAL_GIT": GIT, "KILL_AT": kill_at, "KILL_NTH": str(nth), "KILL_COUNT": str(tmp_path / "count")}
    killed = subprocess.run([*CURATE, "sync", str(two)], capture_output=True, text=True, env={**os.environ, **env}, timeout=120)
    assert killed.returncode == -9, killed.stderr
    time.sleep(0.2)  # a git the kill orphaned finishes
    sync(two)  # run again
    sync(one)
    for folder in (one, two):
        assert sorted(lines_of(folder, "ben")) == sorted(ours + theirs[2:])
        assert lines_of(folder, "ana") == theirs[:2]
        with Corpus.open(folder) as corpus:
            assert sorted(corpus.gold().records) == ["s1", "s2"]
        assert clean(folder)
        assert not [name for name in os.listdir(folder) if name.endswith(".tmp")]
    assert git(one, "rev-parse", "HEAD") == git(two, "rev-parse", "HEAD") == git(remote, "rev-parse", "main")


def test_a_torn_last_line_left_by_a_crash_does_not_stop_a_merge(tmp_path):
    _, (one, two) = new_team(tmp_path)
    first = save(one, "ana", "s1")
    sync(one)
    sync(two)
    later = save(two, "ana", "s2", at="2026-12-07T10:05:00Z")  # ana goes on on machine 2
    sync(two)
    with open(CorpusLayout(one).journal("ana"), "ab") as handle:  # machine 1 crashed mid-append
        handle.write(b'{"snippet_id":"s3","annot')
    report = sync(one)
    assert "annotations/ana.jsonl" in report.received
    assert CorpusLayout(one).journal("ana").read_bytes() == first + later
    assert clean(one)


def test_after_a_snippets_conflict_a_git_merge_by_hand_merges_journals_by_curates_rules(tmp_path):
    _, (one, two) = new_team(tmp_path)
    sync(two)  # registers the merge drivers in this clone
    for folder, key in ((one, "n1"), (two, "n2")):
        extra = tmp_path / f"{key}.jsonl"
        extra.write_text(json.dumps({"id": key, "text": f"New page {key}."}) + "\n")
        ingest([extra], folder)
    ana_one = save(one, "ana", "s1", at="2026-12-07T10:01:00Z")
    ana_two = save(two, "ana", "s2", at="2026-12-07T10:02:00Z")  # one journal, appended on both machines
    sync(one)
    with pytest.raises(SyncConflict, match="snippets.jsonl"):
        sync(two)
    merge = subprocess.run([GIT, "-c", "user.name=t", "-c", "user.email=t@t", "merge", "origin/main"], cwd=two, capture_output=True, text=True)
    assert merge.returncode != 0
    conflicted = git(two, "diff", "--name-only", "--diff-filter=U").splitlines()
    assert conflicted == ["snippets.jsonl"]  # the journal merged by curate's driver, without conflict markers
    assert set(lines_of(two, "ana")) == {ana_one, ana_two}
    # the editor settles snippets.jsonl by keeping both new pages, commits, and syncs
    layout = CorpusLayout(two)
    kept = [line for line in layout.snippets.read_text().splitlines(keepends=True) if not line.startswith(("<<<<<<<", "=======", ">>>>>>>"))]
    layout.snippets.write_text("".join(kept))
    git(two, "add", "snippets.jsonl")
    git(two, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--no-edit")
    sync(two)
    sync(one)
    for folder in (one, two):
        assert set(lines_of(folder, "ana")) == {ana_one, ana_two}
        with Corpus.open(folder) as corpus:
            assert len(corpus) == len(TEXTS) + 2


def test_a_push_the_remote_refuses_is_said_once_not_retried_as_a_race(tmp_path):
    remote, (one, _two) = new_team(tmp_path)
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'files over 10 MB need git-lfs' >&2\nexit 1\n")
    hook.chmod(0o755)
    save(one, "ana", "s1")
    started = time.monotonic()
    with pytest.raises(SyncError, match=r"the remote origin refused the push: pre-receive hook declined \(files over 10 MB need git-lfs\)") as refused:
        sync(one)
    assert time.monotonic() - started < 20 and len(str(refused.value).splitlines()) == 1


def test_a_file_stored_with_git_lfs_on_the_remote_is_refused_by_name(tmp_path):
    _, (one, two) = new_team(tmp_path)
    pointer = b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"0" * 64 + b"\nsize 12345678\n"
    CorpusLayout(one).journal("ana").parent.mkdir(exist_ok=True)
    CorpusLayout(one).journal("ana").write_bytes(pointer)  # what an LFS-tracked journal is in git
    sync(one)
    with pytest.raises(SyncConflict, match="annotations/ana.jsonl is stored with git-lfs"):
        sync(two)
    assert not CorpusLayout(two).journal("ana").exists() and clean(two)


ON_FETCH = """#!/bin/sh
# The real git; while sync fetches (its locks let go), an editor saves a record.
for arg in "$@"; do
  if [ "$arg" = fetch ]; then "$PYTHON" -c "$SAVE_DURING_FETCH"; break; fi
done
exec "$REAL_GIT" "$@"
"""


def test_a_save_made_while_sync_fetches_is_committed_before_the_merge(tmp_path, monkeypatch):
    remote, (one, two) = new_team(tmp_path)
    save(one, "ana", "s1")
    sync(one)
    first = save(two, "ben", "s2")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "git").write_text(ON_FETCH)
    (bin_dir / "git").chmod(0o755)
    during = (
        "from curate.model import Annotation\nfrom curate.store import Corpus\n"
        f"with Corpus.open({str(two)!r}) as corpus, corpus.journal('ben', writable=True) as journal:\n"
        f"    journal.append(Annotation(snippet_id='s3', annotator='ben', stories=[{{'start': 0, 'end': {len(TEXTS['s3'])}}}], status='done', updated_at='2026-12-07T10:30:00Z'))\n"
    )
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("REAL_GIT", GIT)
    monkeypatch.setenv("PYTHON", sys.executable)
    monkeypatch.setenv("SAVE_DURING_FETCH", during)
    sync(two)
    monkeypatch.delenv("SAVE_DURING_FETCH")
    pushed = git(remote, "show", "main:annotations/ben.jsonl").splitlines()
    assert len(pushed) == 2 and pushed[0].encode() + b"\n" == first and json.loads(pushed[1])["snippet_id"] == "s3"
    assert clean(two)


PUSH_FIRST = """#!/bin/sh
# The real git; just before this sync's first push, another machine pushes (once).
for arg in "$@"; do
  if [ "$arg" = push ] && mkdir "$RACE_MARK" 2>/dev/null; then
    "$PYTHON" -c "from curate.sync import sync; sync('$OTHER_MACHINE')" || exit 99
    break
  fi
done
exec "$REAL_GIT" "$@"
"""


def test_a_push_that_lost_the_race_fetches_merges_and_pushes_again(tmp_path, monkeypatch):
    remote, (one, two) = new_team(tmp_path)
    ana = save(one, "ana", "s1")
    ben = save(two, "ben", "s1")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "git").write_text(PUSH_FIRST)
    (bin_dir / "git").chmod(0o755)
    for name, value in {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "REAL_GIT": GIT, "PYTHON": sys.executable, "RACE_MARK": str(tmp_path / "raced"), "OTHER_MACHINE": str(one)}.items():
        monkeypatch.setenv(name, value)
    report = sync(two)
    assert (tmp_path / "raced").is_dir()
    assert report.pushed and report.attempts == 2 and "annotations/ana.jsonl" in report.received
    assert git(two, "rev-parse", "HEAD") == git(remote, "rev-parse", "main")
    assert git(remote, "show", "main:annotations/ana.jsonl").encode() + b"\n" == ana
    assert git(remote, "show", "main:annotations/ben.jsonl").encode() + b"\n" == ben


# ---------------------------------------------------------------- a hostile remote


def push_tree(tmp_path: Path, remote: Path, entries: list[tuple[str, str, bytes]]) -> None:
    """Push onto the remote's main a commit whose tree adds `entries` (mode, name, content) at its
    top; git's own commands refuse such names, so the tree is built with mktree (a remote without
    receive.fsckObjects, git's default, takes it)."""
    work = tmp_path / "attacker"
    git(tmp_path, "clone", "-q", str(remote), str(work))
    listing = git(work, "ls-tree", "HEAD")
    lines = [listing] if listing else []
    for mode, name, data in entries:
        blob = subprocess.run([GIT, "hash-object", "-w", "--stdin"], cwd=work, input=data, capture_output=True, check=True).stdout.decode().strip()
        if "/" in name:  # one folder level: NAME/FILE
            folder, leaf = name.split("/")
            sub = subprocess.run([GIT, "mktree"], cwd=work, input=f"{mode} blob {blob}\t{leaf}\n".encode(), capture_output=True, check=True).stdout.decode().strip()
            lines.append(f"040000 tree {sub}\t{folder}")
        else:
            lines.append(f"{mode} blob {blob}\t{name}")
    tree = subprocess.run([GIT, "mktree"], cwd=work, input=("\n".join(lines) + "\n").encode(), capture_output=True, check=True).stdout.decode().strip()
    commit = git(work, "-c", "user.name=x", "-c", "user.email=x@x", "commit-tree", tree, "-p", "HEAD", "-m", "hostile")
    git(work, "push", "-q", "origin", f"{commit}:refs/heads/main")


@pytest.mark.parametrize(
    ("mode", "name"),
    [("100644", "../outside.txt"), ("100644", ".git/description"), ("100644", ".GIT/description"), ("120000", "annotations.jsonl"), ("100644", "models/learned.json"), ("100644", ".curate/snippets.json")],
)
def test_a_remote_tree_with_a_path_outside_the_corpus_or_a_link_is_refused_with_nothing_written(tmp_path, mode, name):
    remote, (one,) = new_team(tmp_path, clones=1)
    push_tree(tmp_path, remote, [(mode, name, b"/etc/passwd\n" if mode == "120000" else b"written by the remote\n")])
    head = git(one, "rev-parse", "HEAD")
    description = (one / ".git" / "description").read_bytes()
    local_before = (one / ".curate" / "snippets.json").read_bytes()
    with pytest.raises(SyncConflict, match=r"unsafe path|not a plain file|stays on each machine") as refused:
        sync(one)
    assert len(str(refused.value).splitlines()) == 1
    assert not (tmp_path / "outside.txt").exists() and not (one / "annotations.jsonl").exists()
    assert (one / ".git" / "description").read_bytes() == description
    assert (one / ".curate" / "snippets.json").read_bytes() == local_before and not (one / "models").exists()
    assert git(one, "rev-parse", "HEAD") == head and clean(one)


def test_a_remote_file_name_with_undecodable_bytes_escapes_and_a_line_break_is_merged_and_printed_safely(tmp_path):
    remote, (one,) = new_team(tmp_path, clones=1)
    work = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(remote), str(work))
    name = b"notes \xff\x1b[2J\nday.txt"  # git's own commands take such a name; so must sync
    blob = subprocess.run([GIT, "hash-object", "-w", "--stdin"], cwd=work, input=b"a note\n", capture_output=True, check=True).stdout.decode().strip()
    listing = subprocess.run([GIT, "ls-tree", "-z", "HEAD"], cwd=work, capture_output=True, check=True).stdout
    tree = subprocess.run([GIT, "mktree", "-z"], cwd=work, input=listing + f"100644 blob {blob}\t".encode() + name + b"\0", capture_output=True, check=True).stdout.decode().strip()
    commit = git(work, "-c", "user.name=x", "-c", "user.email=x@x", "commit-tree", tree, "-p", "HEAD", "-m", "a note")
    git(work, "push", "-q", "origin", f"{commit}:refs/heads/main")
    save(one, "ana", "s1")  # both sides moved: a merge commit is built
    result = run_cli("sync", one)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout + result.stderr and "Traceback" not in result.stderr
    assert (os.fsencode(one) + b"/" + name) and os.path.exists(os.fsencode(one) + b"/" + name)
    assert open(os.fsencode(one) + b"/" + name, "rb").read() == b"a note\n"
    assert clean(one) and git(one, "rev-parse", "HEAD") == git(remote, "rev-parse", "main")


def test_what_a_person_staged_by_hand_is_neither_committed_nor_pushed(tmp_path):
    remote, (one,) = new_team(tmp_path, clones=1)
    (one / "models").mkdir()
    (one / "models" / "weights.bin").write_bytes(b"\0" * 64)
    (one / "my-notes.txt").write_text("to ask ben\n")
    git(one, "add", "-f", "models/weights.bin", "my-notes.txt")
    ana = save(one, "ana", "s1")
    report = sync(one)
    assert report.committed and report.pushed
    shared = git(remote, "ls-tree", "-r", "--name-only", "main").splitlines()
    assert "annotations/ana.jsonl" in shared and "models/weights.bin" not in shared and "my-notes.txt" not in shared
    assert set(git(one, "diff", "--cached", "--name-only").splitlines()) == {"models/weights.bin", "my-notes.txt"}  # still staged
    assert lines_of(one, "ana") == [ana]
    assert git(one, "status", "--porcelain", "--", "annotations").strip() == ""


def test_a_new_journal_holding_only_a_torn_first_append_is_not_committed(tmp_path):
    remote, (one,) = new_team(tmp_path, clones=1)
    journal = CorpusLayout(one).journal("zed")
    journal.parent.mkdir(exist_ok=True)
    journal.write_bytes(b'{"snippet_id":"s1","annot')  # a crash during zed's very first save
    ana = save(one, "ana", "s1")
    sync(one)
    shared = git(remote, "ls-tree", "-r", "--name-only", "main").splitlines()
    assert "annotations/ana.jsonl" in shared and "annotations/zed.jsonl" not in shared
    assert lines_of(one, "ana") == [ana]


def test_a_remote_url_that_fails_does_not_stay_as_the_remote(tmp_path):
    remote, (one,) = new_team(tmp_path, clones=1)
    typo = tmp_path / "tema.git"
    save(one, "ana", "s1")
    with pytest.raises(SyncError, match="cannot reach the remote origin"):
        sync(one, remote_url=str(typo))
    assert git(one, "remote", "get-url", "origin") == str(remote)  # as it was before the mistyped URL
    assert sync(one).pushed  # the next plain sync goes to the team's remote
    other = tmp_path / "other.git"
    git(tmp_path, "clone", "-q", "--bare", str(remote), str(other))
    sync(one, remote_url=str(other))  # a URL that works is kept
    assert git(one, "remote", "get-url", "origin") == str(other)


def test_the_scratch_indexes_a_killed_sync_left_locked_do_not_stop_the_next(tmp_path):
    _, (one, two) = new_team(tmp_path)
    save(one, "ana", "s1")
    sync(one)
    save(two, "ben", "s2")
    for name in ("curate-commit.index", "curate-sync.index"):
        (two / ".git" / f"{name}.lock").write_bytes(b"")  # git was killed while it held them
    report = sync(two)
    assert report.pushed and "annotations/ana.jsonl" in report.received
