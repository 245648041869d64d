"""Export and publish: annotations out to a Hugging Face dataset folder or another tool's format.

`export_corpus` is the service behind `curate export`: it reads gold (or one annotator's
finished records), cuts every snippet into story rows, assigns splits from the snippet id and
hands the rows to one format's writer. The output is built in a temporary folder beside OUT
and renamed into place only when complete, so a failed export never leaves half a dataset.

Beside it: `rows` (story rows and splits), `context` (what every writer is told), `card` (the
dataset card), `outfolder` (building OUT atomically) and `publish` (the Hub upload). The
formats themselves, and their registry, are in `curate.formats`; heavy libraries (datasets,
spaCy) are imported only by the format that needs them, when it is used.
"""

from __future__ import annotations

import errno
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from curate.formats import EXPORT_FORMATS
from curate.formats import get as get_format
from curate.formats.base import ExportError, check_path_name, name_problem
from curate.model import split_name_problem
from curate.store import Corpus, CorpusLayout, unreferenced_garbage


def _check_split_names(corpus_path: Path, fractions: dict[str, float]) -> None:
    """Refuse split names that cannot be file names, naming the corpus.toml line they are on."""
    for name in fractions:
        problem = name_problem(name)
        if problem is None:
            continue
        config = CorpusLayout(corpus_path).config
        where = f"{config}:{_config_line(config, name)}"
        raise ExportError(f"{where}: split name {name!r} cannot be a file name: {problem}")


def _config_line(config: Path, name: str) -> int:
    """The line of corpus.toml that names `name` (1 when it cannot be found)."""
    try:
        lines = config.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return 1
    for number, line in enumerate(lines, start=1):
        key = line.split("=", 1)[0].strip().strip("\"'")
        if "=" in line and key == name:
            return number
    return 1


@dataclass
class ExportReport:
    out: Path
    format: str
    files: list[Path] = field(default_factory=list)
    snippets: int = 0
    stories: int = 0
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def agreement_summary(corpus: Corpus, notes: list[str] | None = None) -> dict | None:
    """The `curate agreement --json` object of every journal, for the card; None when fewer
    than two annotators can be compared. A failure is noted, and the card goes without it."""
    if len(corpus.annotators()) < 2:
        return None
    try:
        from curate.agreement import AgreementError, agreement
    except ImportError:
        return None
    try:
        return agreement(corpus).to_json()
    except AgreementError:
        return None
    except Exception as error:  # noqa: BLE001 - a card without agreement beats no export at all
        if notes is not None:
            notes.append(f"agreement summary left out of the card: {type(error).__name__}: {error}")
        return None


def source_total(corpus: Corpus, source: str) -> int:
    """How many records an export from `source` reads (for a progress bar)."""
    from curate.export.rows import GOLD, take_gold_source

    if source == GOLD:
        # Where each gold record is, kept for the export that follows (gold is read once).
        return take_gold_source(corpus, keep=True).total() if corpus.layout.gold.exists() else 0
    return corpus.journal(source).counts()["done"]


def _check_source(corpus: Corpus, source: str) -> None:
    from curate.export.rows import GOLD

    if source == GOLD:
        if not corpus.layout.gold.exists():
            raise ExportError(f"{corpus.path}: no gold.jsonl yet; adjudicate first (`curate review` or `curate gold`), or export one annotator with --source NAME")
        return
    if source not in corpus.annotators():
        known = ", ".join(corpus.annotators()) or "none"
        raise ExportError(f"--source {source!r}: no journal {corpus.journal_path(source)} (annotators: {known}; or 'gold')")


def _check_out(out: Path, overwrite: bool) -> None:
    if out.name in ("", ".", ".."):
        raise ExportError(f"--out {out}: name the folder to write (not '.' or '..')")
    if not os.path.lexists(out) or (out.is_dir() and not any(out.iterdir())):
        return
    if not overwrite:
        raise ExportError(f"{out}: already exists and is not empty; pass --overwrite to replace it")
    problem = _not_an_export(out)
    if problem is not None:
        raise ExportError(f"--out {out}: {problem}, so --overwrite would delete it; choose another folder (--overwrite only replaces an earlier curate export)")


def _check_not_corpus(out: Path, corpus_path: Path) -> None:
    """Refuse an OUT that is the corpus folder, lies inside it or holds it (symlinks resolved):
    replacing OUT would delete the corpus, and a folder built inside it would be swept into it."""
    target, corpus = out.resolve(), corpus_path.resolve()
    if target == corpus:
        raise ExportError(f"--out {out}: is the corpus folder {corpus_path}; write the export to a folder outside the corpus")
    if target.is_relative_to(corpus):
        raise ExportError(f"--out {out}: is inside the corpus folder {corpus_path}; write the export to a folder outside the corpus")
    if corpus.is_relative_to(target):
        raise ExportError(f"--out {out}: holds the corpus folder {corpus_path}; write the export to a folder outside the corpus")


_EXPORT_SUFFIXES = (".jsonl", ".conll", ".spacy", ".json")
"""What the per-split formats write at the top of OUT (`<split>.jsonl` and so on)."""


def _not_an_export(out: Path) -> str | None:
    """Why the existing `out` does not look like a folder curate exported (None when it does):
    only README.md, data/ of parquet folders and per-split files of the export formats."""
    if out.is_symlink() or not out.is_dir():
        return "is a file, not a folder curate exported"
    names = sorted(os.listdir(out))
    for marker, what in ((CorpusLayout(out).config, "a curate corpus"), (out / ".git", "a git repository")):
        if marker.name in names:
            return f"holds {marker.name} ({what}), not an export"
    foreign = [name for name in names if not _export_entry(out / name)]
    if foreign:
        shown = ", ".join(repr(name) for name in foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        return f"holds {shown}, which no curate export writes, so it does not look like an earlier export"
    return None


def _export_entry(path: Path) -> bool:
    if path.is_symlink():
        return False
    if path.name == "README.md" or path.name.endswith(_EXPORT_SUFFIXES):
        return path.is_file()
    if path.name == "data" and path.is_dir():
        return all(config.is_dir() and not config.is_symlink() and all(part.suffix == ".parquet" and part.is_file() for part in config.iterdir()) for config in path.iterdir())
    return False


_NO_SPACE = {errno.ENOSPC, errno.EDQUOT}


def os_reason(error: OSError) -> str:
    """What an OSError says, in a few words (a full disk and a full quota both read "no space left on device")."""
    text = str(error)
    if error.errno in _NO_SPACE or "No space left on device" in text or "Disk quota exceeded" in text:
        return "no space left on device"
    if error.strerror:
        return error.strerror[:1].lower() + error.strerror[1:]
    return text.splitlines()[0] if text.strip() else type(error).__name__


def os_failure(error: OSError, out: Path, temp: Path | None, swapped: bool = False) -> ExportError:
    """A failed write while building `out` as one line: what failed, where, and whether OUT changed."""
    where = out
    named = error.filename or getattr(error, "export_path", None)
    if named:
        path = Path(os.fsdecode(named))
        if temp is not None and path.is_relative_to(temp):
            path = out / path.relative_to(temp)
        where = path
    if swapped:
        return ExportError(f"{os_reason(error)} after {out} was replaced by the new export (syncing or tidying {where})")
    return ExportError(f"{os_reason(error)} while writing {where}; nothing was changed at {out}")


def export_corpus(
    corpus: Corpus | Path | str,
    out: Path | str,
    *,
    source: str = "gold",
    fmt: str = "hf",
    splits: str | dict[str, float] | None = None,
    seed: int = 0,
    overwrite: bool = False,
    on_progress: Callable[[int], None] | None = None,
    dedup: bool = True,
) -> ExportReport:
    """Write `corpus`'s gold (or annotator `source`'s done records) to `out` in format `fmt`.

    With `dedup` (the default) pages linked by a near-duplicate story go to one split."""
    from curate.export.outfolder import recover

    entry = get_format(fmt, writes=True)
    if entry is None:
        raise ExportError(f"--format {fmt!r}: choose one of {', '.join(EXPORT_FORMATS)}")
    out = Path(out)
    _check_not_corpus(out, corpus.path if isinstance(corpus, Corpus) else Path(corpus))
    report = ExportReport(out=out, format=fmt)
    try:
        report.notes += recover(out)
    except OSError as error:
        raise ExportError(f"{out}: cannot tidy what an interrupted export left beside it: {os_reason(error)}") from None
    opened = corpus if isinstance(corpus, Corpus) else Corpus.open(corpus)
    try:
        return _export(opened, out, report, source, entry, splits, seed, overwrite, on_progress, dedup)
    finally:
        if opened is not corpus:
            opened.close()


DRIFT_POINTS = 5
"""Export warns when grouping twins moves a split's share of snippets more than this many points off the request."""


def _twin_groups(corpus: Corpus, context) -> dict[str, str]:
    """Snippet id -> the smallest snippet id of its group of pages linked by near-duplicate stories."""
    from curate.dedup import DEFAULT_THRESHOLD, find_duplicates, page_groups

    result = find_duplicates(corpus, DEFAULT_THRESHOLD)
    groups = page_groups(result.clusters)
    context.dedup = {"threshold": DEFAULT_THRESHOLD, "clusters": len(result.clusters), "groups": len(groups), "pages": sum(len(group) for group in groups)}
    return {snippet_id: group[0] for group in groups for snippet_id in group}


def _drift_notes(fractions: dict[str, float], grouped: dict[str, int], plain: dict[str, int]) -> list[str]:
    """A note per split whose share drifted more than DRIFT_POINTS from the request because of grouping."""
    total = sum(grouped.values())
    notes = []
    for name, fraction in fractions.items():
        drift = 100 * (grouped.get(name, 0) / total - fraction) if total else 0.0
        without = 100 * (plain.get(name, 0) / total - fraction) if total else 0.0
        if abs(drift) > DRIFT_POINTS and abs(drift) > abs(without):
            notes.append(
                f"split {name!r} holds {100 * grouped.get(name, 0) / total:.1f}% of the snippets, {abs(drift):.1f} points "
                f"{'over' if drift > 0 else 'under'} the {100 * fraction:g}% asked for, because large clusters of near-duplicate "
                f"pages go to one split together ({100 * plain.get(name, 0) / total:.1f}% with --no-dedup)"
            )
    return notes


class _TwinsBeside:
    """The near-duplicate search (:func:`_twin_groups`) run by a forked child while this process
    reads the source and makes the story rows, which do not depend on the splits; only the
    splits wait for it. The rows stay on this core; the search, which reads gold once more and
    hashes every story, takes the other. A child that fails in any way (killed, stalled, an
    error) costs only time: the search then runs here, with the same result or error."""

    def __init__(self, pid: int, read_end: int) -> None:
        self.pid, self.read_end = pid, read_end

    @classmethod
    def start(cls, corpus: Corpus, context) -> "_TwinsBeside | None":
        """A child searching beside, or None when it is not worth one (a small source, one
        core, clusters saved by an earlier search) or none can start (not Linux, fork refused)."""
        import pickle

        from curate.dedup import cache_holds
        from curate.store import can_work_beside, fork_child

        try:
            size = CorpusLayout(corpus.path).gold.stat().st_size
        except OSError:
            return None
        if size < TWINS_BESIDE_BYTES or not can_work_beside() or cache_holds(corpus):
            return None  # small, one core, or the clusters are saved: read here at once

        def search() -> bytes:
            twins = _twin_groups(corpus, context)
            return pickle.dumps((twins, context.dedup), protocol=pickle.HIGHEST_PROTOCOL)

        started = fork_child(search)
        return None if started is None else cls(*started)

    def result(self, corpus: Corpus, context) -> dict[str, str]:
        """The twins the child found (and `context.dedup`), or found here if it failed."""
        import pickle

        from curate.store import child_result

        data = child_result(self.pid, self.read_end)
        if data is None:
            return _twin_groups(corpus, context)
        try:
            twins, context.dedup = pickle.loads(data)
        except Exception:  # a result cut or damaged on its way: search here
            return _twin_groups(corpus, context)
        return twins

    def abandon(self) -> None:
        from curate.store import abandon_child

        abandon_child(self.pid, self.read_end)


TWINS_BESIDE_BYTES = 1 << 20
"""gold.jsonl's size from which an export searches near-duplicates beside the rows (:class:`_TwinsBeside`)."""

_HELD_BATCHES = 32
"""Batches of story rows held, at most, while the near-duplicate search runs beside (then it is waited for)."""

_ROWS_BATCH = 1024
"""Records whose story rows are made together (one :class:`curate.export.rows.StoryBatch`)."""


def _batches(pairs: Iterable, size: int) -> Iterator[list]:
    batch = []
    for pair in pairs:
        batch.append(pair)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _export(opened: Corpus, out: Path, report: ExportReport, source, entry, splits, seed, overwrite, on_progress, dedup=True) -> ExportReport:
    from curate.export.context import ExportContext
    from curate.export.outfolder import Building
    from curate.export.rows import GOLD, SourceReport, SplitAssigner, parse_splits, source_records, story_batch, take_gold_source

    _check_source(opened, source)
    try:
        fractions = splits if isinstance(splits, dict) else parse_splits(splits, opened.config)
    except ValueError as error:
        raise ExportError(str(error)) from None
    if isinstance(splits, dict):
        for name in fractions:
            check_path_name(name)
            problem = split_name_problem(name)
            if problem is not None:
                raise ExportError(f"splits: {problem}")
    else:
        _check_split_names(opened.path, fractions)
    context = ExportContext(opened.config, opened.path, source, fractions, seed)
    _check_out(out, overwrite)
    building = None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        building = Building(out)
        temp = building.path
        if entry.agreement:
            context.agreement = agreement_summary(opened, report.notes)
        assign = SplitAssigner(fractions, seed)
        beside = _TwinsBeside.start(opened, context) if dedup else None
        if dedup and beside is None and source == GOLD:
            # one gold source for dedup's read and the rows' read: the lines dedup checked are
            # only decoded the second time (kept here when no progress total kept one)
            take_gold_source(opened, keep=True)
        twins = _twin_groups(opened, context) if dedup and beside is None else {}
        plain: Counter = Counter()
        skipped = SourceReport()
        held: list[tuple[list, object]] = []  # batches made while the twins are found beside
        writer = entry.writer(temp, context)

        def write(pairs: list, batch) -> None:
            own = [assign(snippet.id) for snippet, _ in pairs]  # the split without grouping
            splits = [assign(twins[snippet.id]) if snippet.id in twins else split for (snippet, _), split in zip(pairs, own)] if twins else own
            plain.update(own)
            context.counts.add_batch(splits, batch)
            writer.add_batch(splits, batch)
            report.snippets += len(pairs)
            report.stories += len(batch)
            if on_progress is not None:
                on_progress(report.snippets)

        try:
            with unreferenced_garbage():
                for pairs in _batches(source_records(opened, source, skipped), _ROWS_BATCH):
                    batch = story_batch(pairs)
                    if beside is not None:
                        held.append((pairs, batch))
                        if len(held) < _HELD_BATCHES:
                            continue
                        twins, beside = beside.result(opened, context), None
                        for pairs, batch in held:
                            write(pairs, batch)
                        held.clear()
                        continue
                    write(pairs, batch)
                if beside is not None:
                    twins, beside = beside.result(opened, context), None
                for pairs, batch in held:
                    write(pairs, batch)
                held.clear()
        except BaseException as error:
            if beside is not None:
                beside.abandon()
                if isinstance(error, Exception):
                    # an export fails with the error it gave when the search ran first: dedup's
                    # own, if dedup fails too
                    _twin_groups(opened, context)
            raise
        if not report.snippets:
            raise ExportError(f"nothing to export: {source} has no usable records" + (f" ({len(skipped.skipped)} skipped)" if skipped.skipped else ""))
        if dedup:
            report.notes += _drift_notes(fractions, context.counts.snippets, plain)
        with unreferenced_garbage():  # the last tables are built here, over the rows still held
            files = writer.finish()
        report.notes += writer.notes
        for name in context.empty_splits():
            report.notes.append(
                f"split {name!r} ({fractions[name]:g} asked for) is empty: none of the {report.snippets} snippet(s) fell in it, so it has no "
                f"file{' and the card says so' if entry.agreement else ''}; more snippets, other --splits or another --seed change that"
            )
        building.swap()
    except OSError as error:
        if building is not None:
            building.discard()
        raise os_failure(error, out, building and building.path, building is not None and building.swapped) from None
    except BaseException:
        if building is not None:
            building.discard()
        raise
    report.files = [out / path.relative_to(temp) for path in files]
    report.skipped = skipped.skipped
    return report
