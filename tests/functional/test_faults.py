"""Fault injection: a full or failing disk (ENOSPC, EDQUOT, EIO, a short write, a failed fsync,
truncate or rename) at every write point of the store's writers, and SIGKILL of a writing process.

After every fault: each acknowledged record (the call returned) reads back, curate leaves no torn
line, the corpus opens, the journals report no damage, and no temporary file survives the next
run of the same operation. Faults are drawn from a seeded generator, so a failure repeats.
"""

from __future__ import annotations

import errno
import json
import os
import pathlib
import random
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from curate.ingest import ingest
from curate.model import Annotation, GoldAnnotation
from curate.reviewing import ReviewDesk
from curate.store import Corpus, Journal, StoreError

TEXTS = {f"s{index}": f"Story {index} by Reporter {index} in Town {index}.\nPhoto: Agency {index}" for index in range(30)}
KINDS = {
    "write": ("ENOSPC", "EDQUOT", "EIO", "short"),
    "fsync": ("EIO", "ENOSPC"),
    "ftruncate": ("EIO",),
    "replace": ("ENOSPC", "EIO"),
    "rename": ("ENOSPC", "EIO"),
    "handle": ("ENOSPC", "EIO"),  # write() of a file object opened with Path.open
}


class Faults:
    """Wraps os.write, os.fsync, os.ftruncate, os.replace, os.rename and the write() of files
    opened with Path.open, for files under `root` only. In `random` mode each call fails with
    probability `rate`; in `at` mode the call numbered `at` fails (with `kind`)."""

    def __init__(self, root: Path, monkeypatch, seed: int = 0) -> None:
        self.root = str(root)
        self.rng = random.Random(seed)
        self.rate = 0.0
        self.at: int | None = None
        self.kind: str | None = None
        self.calls: list[str] = []
        self.injected = 0
        self.injected_now = 0
        self.active = False
        self._short_pending = False
        self.real = {name: getattr(os, name) for name in ("write", "fsync", "ftruncate", "replace", "rename")}
        for name in self.real:
            monkeypatch.setattr(os, name, self._wrap(name))
        real_open = pathlib.Path.open
        faults = self

        def path_open(path, mode="r", *args, **kwargs):
            handle = real_open(path, mode, *args, **kwargs)
            if any(flag in mode for flag in "wax+") and faults._ours_path(path):
                return _FaultyHandle(handle, faults)
            return handle

        monkeypatch.setattr(pathlib.Path, "open", path_open)

    # ---- which calls count

    def _ours_path(self, path) -> bool:
        return os.path.abspath(os.fsdecode(path)).startswith(self.root)

    def _ours(self, name: str, args) -> bool:
        if name in ("replace", "rename"):
            return self._ours_path(args[0])
        try:
            return os.readlink(f"/proc/self/fd/{args[0]}").startswith(self.root)
        except OSError:
            return False

    def _choose(self, name: str) -> str | None:
        """The fault for this call, if it is to fail."""
        if not self.active:
            return None
        self.calls.append(name)
        if self.at is not None:
            if len(self.calls) != self.at:
                return None
            kind = self.kind if self.kind in KINDS[name] else KINDS[name][0]
        elif self.rng.random() < self.rate:
            kind = self.rng.choice(KINDS[name])
        else:
            return None
        self.injected += 1
        self.injected_now += 1
        return kind

    def _wrap(self, name: str):
        real = self.real[name]

        def wrapper(*args, **kwargs):
            if not (self.active and self._ours(name, args)):
                return real(*args, **kwargs)
            if name == "write" and self._short_pending:
                self._short_pending = False  # a short write is followed by the error that cut it
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            kind = self._choose(name)
            if kind is None:
                return real(*args, **kwargs)
            if kind == "short":
                fd, data = args
                if len(data) > 1:
                    self._short_pending = True
                    return real(fd, bytes(data[: self.rng.randrange(1, len(data))]))
                kind = "ENOSPC"
            number = getattr(errno, kind)
            raise OSError(number, os.strerror(number))

        return wrapper

    @contextmanager
    def on(self, rate: float = 0.0, at: int | None = None, kind: str | None = None):
        self.rate, self.at, self.kind, self.calls, self.active = rate, at, kind, [], True
        self.injected_now = 0
        self._short_pending = False
        try:
            yield self
        finally:
            self.active = False
            self._short_pending = False


class _FaultyHandle:
    """A file object whose write() may fail (as a full disk fails a buffered write)."""

    def __init__(self, handle, faults: Faults) -> None:
        self._handle = handle
        self._faults = faults

    def write(self, data):
        kind = self._faults._choose("handle") if self._faults.active else None
        if kind is not None:
            number = getattr(errno, kind)
            raise OSError(number, os.strerror(number))
        return self._handle.write(data)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self._handle.close()

    def __iter__(self):
        return iter(self._handle)

    def __getattr__(self, name):
        return getattr(self._handle, name)


# ---------------------------------------------------------------- fixtures and checks


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    folder = tmp_path_factory.mktemp("template")
    source = folder / "in.jsonl"
    source.write_text("".join(json.dumps({"id": key, "text": text, "meta": {}}) + "\n" for key, text in TEXTS.items()))
    ingest([source], folder / "c")
    Corpus.open(folder / "c").close()
    return folder / "c"


@pytest.fixture
def corpus_path(template, tmp_path):
    path = tmp_path / "c"
    shutil.copytree(template, path)
    return path


@pytest.fixture
def faults(tmp_path, monkeypatch):
    return Faults(tmp_path, monkeypatch, seed=13)


def annotation(key: str, note: str, annotator: str = "ana", status: str | None = "done", entity: str = "PERSON") -> Annotation:
    text = TEXTS[key]
    end = text.index(" in ")
    return Annotation(snippet_id=key, annotator=annotator, stories=[{"start": 0, "end": len(text)}], entities=[{"start": 10, "end": end, "label": entity}], status=status, note=note)


def expect_store_error(error: BaseException) -> None:
    """A fault must come out as the store's own error with a message, never a raw OSError."""
    assert isinstance(error, StoreError), repr(error)
    assert str(error) and "Errno" not in str(error)


class Expected:
    """What a journal must hold: each acknowledged record (snippet id -> note), or a record of a
    later append that failed but whose undo failed too (a second fault: the truncate), which
    may stay on disk; a failed append with a single fault is always undone."""

    def __init__(self) -> None:
        self.acknowledged: dict[str, str | None] = {}
        self.maybe: dict[str, set[str | None]] = {}

    def ack(self, records) -> None:
        for record in records:
            self.acknowledged[record.snippet_id] = record.note
            self.maybe.pop(record.snippet_id, None)

    def fail(self, records, faults: "Faults") -> None:
        if faults.injected_now > 1:
            for record in records:
                self.maybe.setdefault(record.snippet_id, set()).add(record.note)

    def matches(self, view: dict[str, str | None]) -> bool:
        return set(self.acknowledged) <= set(view) and all(
            note == self.acknowledged.get(key, object()) or note in self.maybe.get(key, ()) for key, note in view.items()
        )


def journal_view(corpus_path: Path, path: Path, *, strict: bool = True) -> dict[str, str | None]:
    """The journal as a fresh reader sees it (snippet id -> note), checked for damage.

    strict: no torn or damaged line at all (after a success or a close); otherwise at most a
    torn last line (a failed append whose truncate failed too; the writer cuts it later).
    """
    raw = path.read_bytes() if path.exists() else b""
    if strict:
        assert raw == b"" or raw.endswith(b"\n"), "a torn last line"
        for line in raw.splitlines():
            Annotation.model_validate_json(line)
    with Corpus.open(corpus_path) as corpus:
        journal = Journal(corpus, path)
        try:
            if strict:
                assert journal.problems == []
            else:
                assert all(problem.torn for problem in journal.problems) and len(journal.problems) <= 1, journal.problems
            return {record.snippet_id: record.note for record in journal.records()}
        finally:
            journal.close()


def check_journal(corpus_path: Path, path: Path, expected: "Expected | dict", *, strict: bool = True) -> None:
    view = journal_view(corpus_path, path, strict=strict)
    if isinstance(expected, Expected):
        assert expected.matches(view), (view, expected.acknowledged, expected.maybe)
    else:
        assert view == expected


def temp_files(folder: Path) -> list[str]:
    return sorted(str(path) for path in folder.rglob("*") if path.name.endswith((".tmp", ".old", ".trash")))


# ---------------------------------------------------------------- journals


@pytest.mark.parametrize("name", ["annotations", "suggestions"])
def test_journal_appends_and_batches_under_random_faults(corpus_path, faults, name):
    rng = random.Random(f"appends-{name}")
    expected = Expected()
    with Corpus.open(corpus_path) as corpus:
        path = corpus.journal_path("ana") if name == "annotations" else corpus.suggestions_path
        journal = corpus.journal("ana", writable=True) if name == "annotations" else corpus.suggestions(writable=True)
        try:
            for step in range(400):
                batch = [annotation(rng.choice(list(TEXTS)), f"{step}.{item}", status=rng.choice(["done", None])) for item in range(rng.choice([1, 1, 1, 3]))]
                try:
                    with faults.on(rate=0.25):
                        journal.append_many(batch)
                except StoreError as error:
                    expect_store_error(error)
                    assert {record.snippet_id: record.note for record in journal.records()} == expected.acknowledged  # state as before
                    expected.fail(batch, faults)
                    check_journal(corpus_path, path, expected, strict=False)
                else:
                    expected.ack(batch)
                    expected.maybe.clear()  # this writer cut what an undone append left before writing
                    if step % 10 == 0:
                        check_journal(corpus_path, path, expected.acknowledged)
        finally:
            with faults.on(rate=0.25):
                journal.close()
    check_journal(corpus_path, path, expected, strict=False)
    with Corpus.open(corpus_path) as corpus:  # the next writer leaves it clean
        (corpus.journal("ana", writable=True) if name == "annotations" else corpus.suggestions(writable=True)).close()
    check_journal(corpus_path, path, expected)
    assert faults.injected >= 250


def test_a_writable_open_and_close_under_faults_lose_nothing(corpus_path, faults):
    """Opening for writing repairs a torn tail (a write) and closing may compact: fault both."""
    expected = Expected()
    path = corpus_path / "annotations" / "ana.jsonl"
    rng = random.Random("open-close")
    for step in range(120):
        with Corpus.open(corpus_path) as corpus:
            if step % 3 == 0 and path.exists():  # a crash mid-append left a torn line behind
                with open(path, "ab") as handle:
                    handle.write(annotation("s1", "torn").model_dump_json().encode()[: rng.randrange(1, 60)])
            record = annotation(rng.choice(list(TEXTS)), f"open {step}")
            try:
                with faults.on(rate=0.3):
                    with corpus.journal("ana", writable=True) as journal:
                        journal.append(record)
                        expected.ack([record])
            except StoreError as error:
                expect_store_error(error)
                if record.snippet_id not in expected.acknowledged or expected.acknowledged[record.snippet_id] != record.note:
                    expected.fail([record], faults)
            check_journal(corpus_path, path, expected, strict=False)
    with Corpus.open(corpus_path) as corpus:
        corpus.journal("ana", writable=True).close()
    check_journal(corpus_path, path, expected)
    assert faults.injected >= 150


def test_compaction_under_random_faults(corpus_path, faults):
    rng = random.Random("compact")
    acknowledged: dict[str, str | None] = {}
    keys = list(TEXTS)[:6]
    with Corpus.open(corpus_path) as corpus:
        path = corpus.journal_path("ana")
        with corpus.journal("ana", writable=True) as journal:
            for step in range(150):
                for key in rng.sample(keys, 3):
                    journal.append(annotation(key, f"{step}"))
                    acknowledged[key] = f"{step}"
                before = path.read_bytes()
                try:
                    with faults.on(rate=0.2):
                        journal.compact()
                except StoreError as error:
                    expect_store_error(error)
                    assert path.read_bytes() == before
                assert not temp_files(corpus_path / "annotations")
                check_journal(corpus_path, path, acknowledged)
                assert {record.snippet_id: record.note for record in journal.records()} == acknowledged
    assert faults.injected >= 150


# ---------------------------------------------------------------- gold and review


def test_gold_rewrites_under_random_faults(corpus_path, faults):
    rng = random.Random("gold")
    acknowledged: dict[str, str] = {}
    with Corpus.open(corpus_path) as corpus:
        gold = corpus.gold()
        for step in range(300):
            keys = rng.sample(list(TEXTS), rng.choice([1, 2]))
            records = [GoldAnnotation(**annotation(key, f"gold {step}").model_dump(), adjudicator="cy", sources=["ana"]) for key in keys]
            removing = step % 7 == 6
            try:
                with faults.on(rate=0.3):
                    gold.remove(*keys) if removing else gold.put(*records)
            except StoreError as error:
                expect_store_error(error)
            else:
                for key, record in zip(keys, records):
                    acknowledged.pop(key, None) if removing else acknowledged.__setitem__(key, record.note)
            assert {key: record.note for key, record in gold.records.items()} == acknowledged  # memory follows disk
            with Corpus.open(corpus_path) as fresh:
                on_disk = fresh.gold()
                assert on_disk.problems == [] and {key: record.note for key, record in on_disk.records.items()} == acknowledged
            assert not temp_files(corpus_path)
    assert faults.injected >= 200


def test_review_saves_and_accepts_under_random_faults(corpus_path, faults):
    with Corpus.open(corpus_path) as corpus:
        for name, label in (("ana", "PERSON"), ("ben", "ORG")):
            with corpus.journal(name, writable=True) as journal:
                journal.append_many([annotation(key, None, annotator=name, entity=label) for key in list(TEXTS)[:12]])
    desk = ReviewDesk.open(corpus_path, "cy", auto_accept=False)
    rng = random.Random("review")
    saved: dict[str, str] = {}
    accepted: dict[str, str] = {}
    try:
        assert len(desk.queue) == 12
        for step in range(200):
            position = rng.choice(desk.queue)
            opened = desk.open_snippet(position)
            accepting = rng.random() < 0.3
            try:
                with faults.on(rate=0.3):
                    result = desk.accept(opened, now=float(step)) if accepting else desk.save(opened, now=float(step))
            except StoreError as error:
                expect_store_error(error)
                # A failed accept may have saved the review record before gold failed.
                record = desk.journal.record_at(position)
                if record is not None:
                    saved[record.snippet_id] = record.model_dump_json()
            else:
                saved[result.snippet_id] = (desk.journal.record_at(position)).model_dump_json()
                if accepting:
                    accepted[result.snippet_id] = result.model_dump_json()
            check = {key: json.loads(value)["note"] for key, value in saved.items()}
            check_journal(corpus_path, desk.journal.path, check, strict=False)
            assert {key: record.model_dump_json() for key, record in desk.gold.records.items()} == accepted
            assert desk.counts()["gold"] == len(accepted) and desk.accepted == len(accepted)
    finally:
        desk.close()
    with Corpus.open(corpus_path) as corpus:
        assert {key: record.model_dump_json() for key, record in corpus.gold().records.items()} == accepted
        journal = Journal(corpus, ReviewDesk.review_journal_path(corpus, "cy"))
        assert journal.problems == [] and {record.snippet_id: record.model_dump_json() for record in journal.records()} == saved
        journal.close()
    assert not temp_files(corpus_path)
    assert faults.injected >= 150


# ---------------------------------------------------------------- SIGKILL


WRITER = """
import sys
from curate.model import Annotation, GoldAnnotation
from curate.store import Corpus
corpus = Corpus.open(sys.argv[1])
texts = {snippet.id: snippet.text for snippet in corpus.iter_snippets()}
keys = sorted(texts)
gold = corpus.gold()
with corpus.journal("ana", writable=True) as journal:
    step = int(sys.argv[2])
    while True:
        key = keys[step % len(keys)]
        record = Annotation(snippet_id=key, annotator="ana", stories=[{"start": 0, "end": len(texts[key])}], status="done", note=f"kill {step}")
        journal.append(record)
        print("journal", key, record.note, flush=True)
        if step % 5 == 0:
            gold.put(GoldAnnotation(**record.model_dump(), adjudicator="cy", sources=["ana"]))
            print("gold", key, record.note, flush=True)
        if step % 17 == 0:
            journal.compact()
        step += 1
"""


def test_a_killed_writer_loses_no_acknowledged_record(corpus_path):
    rng = random.Random("kill")
    journal_acks: dict[str, str] = {}
    gold_acks: dict[str, int] = {}
    path = corpus_path / "annotations" / "ana.jsonl"
    step = 0
    kills = 0
    for _ in range(6):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(corpus_path), str(step)], stdout=subprocess.PIPE, text=True)
        first = writer.stdout.readline()  # started (however slow the machine), then killed at a random point
        time.sleep(rng.random() * 0.3)
        writer.send_signal(signal.SIGKILL)
        out, _ = writer.communicate(timeout=30)
        out = first + out
        kills += writer.returncode == -signal.SIGKILL
        for line in out.splitlines():
            parts = line.split(" ", 2)
            if len(parts) < 3:
                continue  # the kill cut the line being printed: not acknowledged
            kind, key, note = parts
            step = max(step, int(note.split()[1]) + 1)
            if kind == "journal":
                journal_acks[key] = note
            else:
                gold_acks[key] = max(gold_acks.get(key, -1), int(note.split()[1]))
        # A read-only open sees every acknowledged record; at most a torn last line.
        view = journal_view(corpus_path, path, strict=False)
        for key, note in journal_acks.items():  # the writer may have saved one more after the last ack
            assert int(view[key].split()[1]) >= int(note.split()[1])
        with Corpus.open(corpus_path) as corpus:
            gold = corpus.gold()
            assert gold.problems == []
            for key, acked in gold_acks.items():
                assert int(gold.records[key].note.split()[1]) >= acked
    assert kills >= 5 and len(journal_acks) > 5
    # The next writable open and gold write repair the torn line and clear killed writers' temp files.
    with Corpus.open(corpus_path) as corpus:
        corpus.journal("ana", writable=True).close()
        corpus.gold().put(*corpus.gold().records.values())
    view = journal_view(corpus_path, path)  # strict: no torn line, no damage
    assert all(int(view[key].split()[1]) >= int(note.split()[1]) for key, note in journal_acks.items())
    assert not temp_files(corpus_path)



# ---------------------------------------------------------------- import and export (public entry points)


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def every_fault_point(faults: Faults, run) -> list[tuple[int, str]]:
    """(call number, kind) for every instrumented call `run` makes and every way it can fail."""
    with faults.on():
        run()
    return [(number, kind) for number, name in enumerate(faults.calls, start=1) for kind in KINDS[name]]


def test_import_under_a_fault_at_every_write_point(corpus_path, faults, tmp_path):
    from curate.importing import import_annotations

    source = tmp_path / "import.jsonl"
    records = [annotation(key, f"imported {key}", annotator="imp") for key in list(TEXTS)[:10]]
    source.write_text("".join(record.model_dump_json() + "\n" for record in records))
    with Corpus.open(corpus_path) as corpus, corpus.journal("imp", writable=True) as journal:
        journal.append(annotation("s20", "before", annotator="imp"))
    template = tmp_path / "before-import"
    shutil.copytree(corpus_path, template)
    imported = {"s20": "before"} | {record.snippet_id: record.note for record in records}
    path = corpus_path / "annotations" / "imp.jsonl"
    points = every_fault_point(faults, lambda: import_annotations(source, "jsonl", corpus_path, "imp"))
    assert journal_view(corpus_path, path) == imported
    for number, kind in points:
        shutil.rmtree(corpus_path)
        shutil.copytree(template, corpus_path)
        try:
            with faults.on(at=number, kind=kind):
                import_annotations(source, "jsonl", corpus_path, "imp")
        except StoreError as error:
            expect_store_error(error)
            check_journal(corpus_path, path, {"s20": "before"})  # all or nothing
        else:
            check_journal(corpus_path, path, imported)
        import_annotations(source, "jsonl", corpus_path, "imp")  # the next run
        check_journal(corpus_path, path, imported)
        assert not temp_files(corpus_path)
    assert faults.injected == len(points) >= 20


@pytest.mark.parametrize("fmt", ["jsonl", "conll"])
def test_export_under_a_fault_at_every_write_point(corpus_path, faults, tmp_path, fmt):
    from curate.export import export_corpus

    with Corpus.open(corpus_path) as corpus, corpus.journal("ana", writable=True) as journal:
        journal.append_many([annotation(key, "first") for key in list(TEXTS)[:12]])
    out = tmp_path / "out"
    export_corpus(corpus_path, out, source="ana", fmt=fmt)
    old = folder_bytes(out)
    with Corpus.open(corpus_path) as corpus, corpus.journal("ana", writable=True) as journal:
        journal.append_many([annotation(key, "second", entity="ORG") for key in list(TEXTS)[6:18]])
    # Export's near-duplicate pass caches under .curate/ (best effort): warm it, so every run
    # below makes the same writes as the one that counts the write points.
    export_corpus(corpus_path, tmp_path / "warm", source="ana", fmt=fmt)
    points = every_fault_point(faults, lambda: export_corpus(corpus_path, out, source="ana", fmt=fmt, overwrite=True))
    new = folder_bytes(out)
    assert new != old
    for number, kind in points:
        shutil.rmtree(out)
        out.mkdir()
        for name, data in old.items():
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            (out / name).write_bytes(data)
        try:
            with faults.on(at=number, kind=kind):
                export_corpus(corpus_path, out, source="ana", fmt=fmt, overwrite=True)
        except Exception as error:
            expect_store_error(error)  # ExportError is a StoreError
            assert folder_bytes(out) in (old, new), f"fault {kind} at call {number} ({faults.calls[-1]}): OUT is neither the old nor the new export"
        else:
            assert folder_bytes(out) == new
        export_corpus(corpus_path, out, source="ana", fmt=fmt, overwrite=True)  # the next run
        assert folder_bytes(out) == new
        assert [name for name in os.listdir(tmp_path) if name.startswith(".out.")] == []
    assert faults.injected == len(points) >= 20



def test_assignment_rewrites_under_a_fault_at_every_write_point(corpus_path, faults):
    from curate.assign import share_out
    from curate.store import read_assignment, write_assignment

    ids = list(TEXTS)
    old = share_out(ids[:10], ["ana", "ben"], 1, seed=1)
    write_assignment(corpus_path, old)
    new = share_out(ids, ["ana", "ben", "cy"], 2, seed=1, previous=old)
    points = every_fault_point(faults, lambda: write_assignment(corpus_path, new))
    for number, kind in points:
        write_assignment(corpus_path, old)
        try:
            with faults.on(at=number, kind=kind):
                write_assignment(corpus_path, new)
        except (StoreError, OSError):
            assert read_assignment(corpus_path).snippets in (old.snippets, new.snippets)  # whole, never torn
        else:
            assert read_assignment(corpus_path).snippets == new.snippets
        write_assignment(corpus_path, new)  # the next run
        assert read_assignment(corpus_path).snippets == new.snippets
        assert not temp_files(corpus_path)
    assert faults.injected == len(points) >= 4
