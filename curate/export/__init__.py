"""Export, publish and interchange: annotations out to a Hugging Face dataset and other tools' formats, and back in.

`export_corpus` is the service behind `curate export`: it reads gold (or one annotator's
finished records), cuts every snippet into story rows, assigns splits from the snippet id and
hands the rows to one format's writer. The output is built in a temporary folder beside OUT
and renamed into place only when complete, so a failed export never leaves half a dataset.

Format modules: `hf`, `conll`, `spacy`, `jsonl`, `prodigy`, `doccano` (writers); `prodigy`,
`doccano`, `labelstudio`, `brat`, `conll`, `jsonl` (readers, used by `imports`); `publish`.
Heavy libraries (datasets, spaCy) are imported only by the format that needs them.
"""

from __future__ import annotations

import errno
import importlib
import os
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from curate.store import Corpus, StoreError

EXPORT_FORMATS: tuple[str, ...] = ("hf", "conll", "spacy", "jsonl", "prodigy", "doccano", "labelstudio")
IMPORT_FORMATS: tuple[str, ...] = ("prodigy", "doccano", "labelstudio", "brat", "conll", "jsonl")


class ExportError(StoreError):
    """An export that cannot be made, with a message for the user."""


def name_problem(name: object) -> str | None:
    """Why `name` cannot be one file name inside a folder (None when it can)."""
    if not isinstance(name, str) or not name.strip():
        return "it is empty"
    if name in (".", ".."):
        return f"{name!r} names a folder, not a file"
    if name.startswith(("/", "\\")) or os.path.isabs(name) or os.path.splitdrive(name)[0]:
        return "it is an absolute path"
    for separator in ("/", "\\", os.sep, os.altsep or "/"):
        if separator in name:
            return f"it holds the path separator {separator!r}"
    if any(unicodedata.category(char) == "Cc" for char in name):
        return "it holds a control character"
    return None


def check_path_name(name: object, what: str = "split") -> str:
    """`name` itself, or ExportError when it cannot be one file name inside a folder."""
    problem = name_problem(name)
    if problem is not None:
        raise ExportError(f"{what} name {name!r} cannot be a file name: {problem}")
    return name


def safe_child(folder: Path, name: str, suffix: str = "", *, what: str = "split") -> Path:
    """`folder/<name><suffix>`, refused (ExportError) unless it is a file right inside `folder`.

    Every writer that turns a split name (or any other name from corpus.toml or a record)
    into a path goes through here: no separators, no `..`, no absolute path, and the path
    must still resolve to a child of `folder` (a symlink cannot lead it out).
    """
    check_path_name(name, what)
    path = folder / f"{name}{suffix}"
    base = folder.resolve()
    resolved = path.resolve()
    if resolved.parent != base:
        raise ExportError(f"{what} name {name!r}: {path} resolves to {resolved}, outside {base}")
    return path


@contextmanager
def writing(path: Path | str) -> Iterator[None]:
    """Name `path` on an OSError raised inside (a failed write or close names no file itself)."""
    try:
        yield
    except OSError as error:
        if not error.filename and not hasattr(error, "export_path"):
            error.export_path = os.fspath(path)  # beside the error, whose own text stays as it was
        raise


def _check_split_names(corpus_path: Path, fractions: dict[str, float]) -> None:
    """Refuse split names that cannot be file names, naming the corpus.toml line they are on."""
    from curate.store import CONFIG_NAME

    for name in fractions:
        problem = name_problem(name)
        if problem is None:
            continue
        config = corpus_path / CONFIG_NAME
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
    from curate.export.rows import GOLD

    if source == GOLD:
        return len(corpus.gold())
    return corpus.journal(source).counts()["done"]


def _check_source(corpus: Corpus, source: str) -> None:
    from curate.export.rows import GOLD

    if source == GOLD:
        if not (corpus.path / "gold.jsonl").exists():
            raise ExportError(f"{corpus.path}: no gold.jsonl yet; adjudicate first (`curate review` or `curate gold`), or export one annotator with --source NAME")
        return
    if source not in corpus.annotators():
        known = ", ".join(corpus.annotators()) or "none"
        raise ExportError(f"--source {source!r}: no journal {corpus.journal_path(source)} (annotators: {known}; or 'gold')")


def _check_out(out: Path, overwrite: bool) -> None:
    if out.name in ("", ".", ".."):
        raise ExportError(f"--out {out}: name the folder to write (not '.' or '..')")
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise ExportError(f"{out}: already exists and is not empty; pass --overwrite to replace it")


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
) -> ExportReport:
    """Write `corpus`'s gold (or annotator `source`'s done records) to `out` in format `fmt`."""
    from curate.export.context import ExportContext
    from curate.export.rows import SourceReport, SplitAssigner, parse_splits, source_records, story_rows

    from curate.export.outfolder import recover

    if fmt not in EXPORT_FORMATS:
        raise ExportError(f"--format {fmt!r}: choose one of {', '.join(EXPORT_FORMATS)}")
    out = Path(out)
    report = ExportReport(out=out, format=fmt)
    try:
        report.notes += recover(out)
    except OSError as error:
        raise ExportError(f"{out}: cannot tidy what an interrupted export left beside it: {os_reason(error)}") from None
    opened = corpus if isinstance(corpus, Corpus) else Corpus.open(corpus)
    try:
        return _export(opened, out, report, source, fmt, splits, seed, overwrite, on_progress)
    finally:
        if opened is not corpus:
            opened.close()


def _export(opened: Corpus, out: Path, report: ExportReport, source, fmt, splits, seed, overwrite, on_progress) -> ExportReport:
    from curate.export.context import ExportContext
    from curate.export.outfolder import Building
    from curate.export.rows import SourceReport, SplitAssigner, parse_splits, source_records, story_rows

    _check_source(opened, source)
    try:
        fractions = splits if isinstance(splits, dict) else parse_splits(splits, opened.config)
    except ValueError as error:
        raise ExportError(str(error)) from None
    if isinstance(splits, dict):
        for name in fractions:
            check_path_name(name)
    else:
        _check_split_names(opened.path, fractions)
    context = ExportContext(opened.config, opened.path, source, fractions, seed)
    _check_out(out, overwrite)
    building = None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        building = Building(out)
        temp = building.path
        if fmt == "hf":
            context.agreement = agreement_summary(opened, report.notes)
        assign = SplitAssigner(fractions, seed)
        skipped = SourceReport()
        writer = importlib.import_module(f"curate.export.{fmt}").Writer(temp, context)
        for count, (snippet, record) in enumerate(source_records(opened, source, skipped), start=1):
            split = assign(snippet.id)
            stories = story_rows(snippet, record)
            context.counts.add(split, record, stories)
            writer.add(split, snippet, record, stories)
            report.snippets += 1
            report.stories += len(stories)
            if on_progress is not None:
                on_progress(count)
        if not report.snippets:
            raise ExportError(f"nothing to export: {source} has no usable records" + (f" ({len(skipped.skipped)} skipped)" if skipped.skipped else ""))
        files = writer.finish()
        report.notes += getattr(writer, "notes", [])
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
