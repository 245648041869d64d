"""The `curate` command line: thin typer commands over the service modules."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from curate.console import errors, markup_safe, record_progress, split_names, stderr_progress, terminal_safe
from curate.console import out as console
from curate.formats import EXPORT_FORMATS, IMPORT_FORMATS, format_help


def _flag_type_rich(display_type_rich):
    """typer's rich help prints `<bool>` beside every flag (--help included); a flag takes no value,
    so its type column is left empty, as click's plain help does."""

    def display(self, ctx):
        if getattr(self, "is_flag", False):
            return None
        return display_type_rich(self, ctx)

    return display


if hasattr(typer.core.TyperOption, "display_type_rich"):
    typer.core.TyperOption.display_type_rich = _flag_type_rich(typer.core.TyperOption.display_type_rich)


def _usage_name(self) -> str:
    """An argument in a usage line as its metavar (`DIR`, `[FILE]`, `PATH...`), as click writes
    it, not typer's `{directory}`; an argument without a metavar is its name in capitals."""
    name = self.metavar or self.name.upper()
    if not self.required:
        name = f"[{name}]"
    return name + ("..." if self.nargs != 1 else "")


if hasattr(typer.core.TyperArgument, "_usage_display_name"):
    typer.core.TyperArgument._usage_display_name = _usage_name


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("curate")
        except PackageNotFoundError:  # run from a checkout that was never installed
            number = "(not installed)"
        print(f"curate {number}")
        raise typer.Exit()


app = typer.Typer(
    help="Annotate scraped news: story boundaries, boilerplate and entities; agreement, gold and export.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print curate's version and exit.")] = False,
) -> None:
    """Annotate scraped news: story boundaries, boilerplate and entities; agreement, gold and export."""


CorpusDir = Annotated[Path, typer.Argument(metavar="DIR", help="The corpus folder.", show_default=False)]


def fail(message: str, code: int = 1) -> None:
    errors.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(code)


def fail_plain(message: str) -> None:
    """`fail` for a message holding foreign text: control characters and rich markup escaped."""
    fail(markup_safe(message))


def save_message(error: Exception) -> str:
    """One line for a failed write: the store's own message, or an OSError in plain words with its file."""
    from curate.store import StoreError, error_reason

    if isinstance(error, StoreError) or not isinstance(error, OSError):
        return str(error)
    return (f"{error.filename}: " if error.filename else "") + error_reason(error)


def open_corpus(directory: Path, *, index_later: bool = False):
    from curate.store import Corpus, StoreError

    try:
        return Corpus.open(directory, index_later=index_later)
    except StoreError as error:
        fail_plain(str(error))


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(metavar="PATH", help=".txt files, folders of them, .jsonl, .parquet or saved HF datasets.", show_default=False)],
    corpus: Annotated[Path, typer.Option("--corpus", metavar="DIR", help="The corpus folder to create or add to.", show_default=False)],
    labels: Annotated[Optional[str], typer.Option(metavar="LABELS", help="Comma-separated entity labels for a new corpus (keys 1-9 in order).")] = None,
    text_field: Annotated[str, typer.Option(metavar="FIELD", help="Field or column holding the text (.jsonl, parquet, HF).")] = "text",
    id_field: Annotated[str, typer.Option(metavar="FIELD", help="Field or column holding the id; missing ids become FILE-LINE.")] = "id",
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Skip bad records (and report them) instead of refusing the ingest.")] = False,
    skip_duplicates: Annotated[bool, typer.Option("--skip-duplicates", help="Leave out snippets whose text equals one already in the corpus or earlier in the input (each reported with both ids).")] = False,
) -> None:
    """Create a corpus (or add to one) from text files, JSONL, parquet or a saved HF dataset."""

    from curate.ingest import IngestError
    from curate.ingest import ingest as run_ingest
    from curate.store import StoreError

    label_list = split_names(labels)
    missing = [path for path in paths if not path.exists()]
    for path in missing:
        errors.print(terminal_safe(f"{path}: no such file or folder"), highlight=False, markup=False, soft_wrap=True)
    if missing:
        fail(f"ingest refused: {len(missing)} input(s) not found; nothing was written")
    with stderr_progress("ingesting") as progress:
        task = progress.add_task("ingest", total=None)

        def advance(count: int) -> None:
            progress.update(task, completed=count)

        try:
            report = run_ingest(paths, corpus, labels=label_list, text_field=text_field, id_field=id_field, skip_invalid=skip_invalid, skip_duplicates=skip_duplicates, on_record=advance)
        except IngestError as error:
            progress.stop()
            for problem in error.problems:
                errors.print(terminal_safe(problem), highlight=False, markup=False, soft_wrap=True)
            hint = " (use --skip-invalid to skip them)" if error.skippable else ""
            fail(f"ingest refused: {len(error.problems)} problem(s); nothing was written{hint}")
        except (StoreError, OSError) as error:
            progress.stop()
            fail_plain(save_message(error))
    for problem in report.skipped:
        errors.print(terminal_safe(f"skipped {problem}"), highlight=False, markup=False, soft_wrap=True)
    for note in report.notes:
        errors.print(terminal_safe(f"warning: {note}"), highlight=False, markup=False, soft_wrap=True)
    console.print(terminal_safe(f"{report.added} snippet(s) added to {corpus}" + (f"; {len(report.skipped)} skipped" if report.skipped else "")), highlight=False, markup=False, soft_wrap=True)


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A snippets or annotation JSONL file.", show_default=False)],
    corpus: Annotated[Optional[Path], typer.Option("--corpus", metavar="DIR", help="Check annotations against this corpus's texts and labels.")] = None,
) -> None:
    """Check a snippets or annotation file; print every problem as file:line: reason."""
    from curate.store import CorpusLayout
    from curate.validate import validate_file

    if file.is_dir():
        fail_plain(f"{file}: is a folder; validate checks one JSONL file (such as {CorpusLayout(file).snippets})")
    if not file.is_file():
        fail_plain(f"{file}: no such file")
    opened = open_corpus(corpus) if corpus else None
    count = 0
    for problem in validate_file(file, opened):
        count += 1
        console.print(terminal_safe(problem), highlight=False, markup=False, soft_wrap=True)
    if count:
        fail_plain(f"{file}: {count} problem(s)")
    console.print(terminal_safe(f"{file}: ok"), highlight=False, markup=False, soft_wrap=True)


@app.command()
def stats(
    directory: CorpusDir,
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts and each annotator's progress as one JSON object.")] = False,
) -> None:
    """Counts: snippets, characters, annotators by status, gold, damaged journal lines."""
    from curate.assign import team_progress
    from curate.stats import corpus_stats
    from curate.store import StoreError

    corpus = open_corpus(directory, index_later=True)
    try:
        corpus.text_facts()  # with no .curate/, the snippet index and the texts' facts in one pass
        progress = team_progress(corpus)
    except StoreError as error:
        fail_plain(str(error))
    result = corpus_stats(corpus)
    if as_json:
        import json

        figures = {"snippets": result.snippets, "characters": result.characters, "gold": result.gold, "suggestions": result.suggestions, "annotators": progress}
        print(json.dumps(figures, ensure_ascii=False))
        return
    console.print(
        f"[bold]{markup_safe(directory)}[/]: {result.snippets:,} snippets, {result.characters:,} characters, "
        f"{result.suggestions:,} with suggestions, {result.gold:,} gold",
        soft_wrap=True,
    )
    table = Table("annotator", "done", "skipped", "flagged", "in progress", "damaged lines", "text changed", title="annotators")
    for row in result.annotators:
        table.add_row(markup_safe(row.name), f"{row.done:,}", f"{row.skipped:,}", f"{row.flagged:,}", f"{row.in_progress:,}", f"{len(row.problems):,}", f"{len(row.changed):,}")
    if result.annotators:
        console.print(table)
    else:
        console.print("no annotators yet")
    progress_bars(progress)
    journal_names = [(corpus.journal_path(row.name), row.problems) for row in result.annotators]
    journal_names += [(corpus.layout.gold, result.gold_problems), (corpus.suggestions_path, result.suggestion_problems)]
    damaged = [(path, problem) for path, problems in journal_names for problem in problems]
    if damaged:
        console.print(f"{len(damaged)} damaged line(s), skipped when reading (`curate compact` drops them):")
    else:
        console.print("no damaged lines")
    for path, problem in damaged:
        console.print(terminal_safe(f"{path}:{problem.line}: {problem.reason}"), highlight=False, markup=False, soft_wrap=True)
    for row in result.annotators:
        if row.changed:
            shown = ", ".join(row.changed[:5]) + (" ..." if len(row.changed) > 5 else "")
            console.print(
                terminal_safe(f"{len(row.changed)} record(s) of {row.name} were saved for a snippet text that has changed since (export leaves them out): {shown}"),
                highlight=False, markup=False, soft_wrap=True,
            )
    if result.contradicted_gold:
        console.print(f"{len(result.contradicted_gold)} gold record(s) contradicted by a later annotation (review them again with `curate review`):")
        for snippet_id, annotator in result.contradicted_gold:
            console.print(terminal_safe(f"  {snippet_id}: {annotator} saved a different done record after the gold"), highlight=False, markup=False, soft_wrap=True)


@app.command()
def compact(directory: CorpusDir) -> None:
    """Rewrite every journal (and suggestions.jsonl) down to the last record per snippet, atomically."""
    from curate.store import Journal, StoreError

    corpus = open_corpus(directory)
    paths = [corpus.journal_path(name) for name in corpus.annotators()]
    if corpus.suggestions_path.exists():
        paths.append(corpus.suggestions_path)
    refused = 0
    for path in paths:
        try:
            with Journal(corpus, path, writable=True) as journal:
                result = journal.compact()
        except (StoreError, OSError) as error:
            errors.print(terminal_safe(save_message(error)), highlight=False, markup=False, soft_wrap=True)
            refused += 1
            continue
        console.print(
            terminal_safe(
                f"{path}: {result['lines_before']} -> {result['lines_after']} lines, "
                f"{result['bytes_before']} -> {result['bytes_after']} bytes, {result['lines_dropped']} damaged line(s) dropped"
            ),
            highlight=False, markup=False, soft_wrap=True,
        )
    if not paths:
        console.print(terminal_safe(f"{directory}: no journals to compact"), highlight=False, markup=False)
    if refused:
        fail(f"{refused} journal(s) not compacted")


def progress_bars(progress: dict[str, dict]) -> None:
    """One bar per assigned annotator: done of assigned, and the median seconds per done snippet."""
    from rich.progress_bar import ProgressBar

    rows = {name: row for name, row in progress.items() if row["assigned"] is not None}
    if not rows:
        return
    table = Table("annotator", "progress", "done", "median s", title="assigned work", box=None)
    for name, row in rows.items():
        median = "-" if row["median_seconds"] is None else f"{row['median_seconds']:.0f}"
        table.add_row(markup_safe(name), ProgressBar(total=max(row["assigned"], 1), completed=row["done"], width=30), f"{row['done']:,}/{row['assigned']:,}", median)
    console.print(table)


@app.command()
def assign(
    directory: CorpusDir,
    annotators: Annotated[str, typer.Option("--annotators", metavar="NAMES", help="Comma-separated team, e.g. ana,ben,cy (names in corpus.toml's annotators, when it lists any).", show_default=False)],
    overlap: Annotated[Optional[int], typer.Option("--overlap", metavar="N", help="Annotators per snippet (default: corpus.toml's overlap).", show_default=False)] = None,
    iaa: Annotated[float, typer.Option("--iaa", metavar="FRACTION", help="Give this fraction of the snippets to --iaa-overlap annotators instead, for agreement.")] = 0.0,
    iaa_overlap: Annotated[Optional[int], typer.Option("--iaa-overlap", metavar="K", help="Annotators per agreement snippet (with --iaa).", show_default=False)] = None,
    seed: Annotated[int, typer.Option("--seed", metavar="S", help="Changes who gets which snippet (the same seed, snippets and team give the same assignment).")] = 0,
) -> None:
    """Share the snippets out among a team (kept when run again: only new snippets are shared out)."""
    from curate.assign import AssignError, check_team, share_out
    from curate.store import StoreError, read_assignment, write_assignment

    team = split_names(annotators) or []
    if iaa_overlap is not None and not iaa:
        fail("--iaa-overlap needs --iaa FRACTION (the share of the snippets that goes to K annotators)")
    corpus = open_corpus(directory)
    overlap = corpus.config.overlap if overlap is None else overlap
    try:
        check_team(team, overlap, iaa, iaa_overlap, corpus.config.annotators)
        previous = read_assignment(corpus.path)
        progress, advance = record_progress("reading snippet ids", len(corpus))
        with progress:
            ids = []
            for position in range(len(corpus)):
                ids.append(corpus.snippet_id(position))
                advance(position + 1)
        result = share_out(ids, team, overlap, iaa_fraction=iaa, iaa_overlap=iaa_overlap, seed=seed, previous=previous)
        write_assignment(corpus.path, result)
    except AssignError as error:
        fail_plain(str(error))
    except (StoreError, OSError) as error:
        fail_plain(save_message(error))
    loads = ", ".join(f"{name} {count}" for name, count in result.loads().items())
    kept = len(previous.snippets) if previous is not None else 0
    console.print(terminal_safe(f"{len(result.snippets)} snippet(s) assigned ({kept} kept from before) in {corpus.layout.assignments}: {loads}"), highlight=False, markup=False, soft_wrap=True)


# Commands of later modules register here, one line each.


@app.command()
def sync(
    directory: CorpusDir,
    remote: Annotated[Optional[str], typer.Option("--remote", metavar="URL", help="The team's git remote (a bare repository path, an SSH URL or a Hugging Face dataset repository); makes DIR a git repository first if it is not one.", show_default=False)] = None,
) -> None:
    """Share the corpus through its git remote: commit this machine's work, merge the others', push (see README, Working as a team)."""
    from curate.sync import SyncError, describe
    from curate.sync import sync as run_sync

    try:
        report = run_sync(directory, remote_url=remote)
    except SyncError as error:
        fail_plain(str(error))
    except OSError as error:
        fail_plain(save_message(error))
    for line in describe(report):
        console.print(terminal_safe(line), highlight=False, markup=False, soft_wrap=True)


@app.command()
def annotate(
    directory: CorpusDir,
    annotator: Annotated[str, typer.Option("--annotator", help="Your name; your work goes to annotations/NAME.jsonl.", show_default=False)],
    queue: Annotated[str, typer.Option("--queue", help="Which snippets to work through: todo, all, flagged, skipped or done.")] = "todo",
    order: Annotated[str, typer.Option("--order", help="In which order: corpus, uncertainty (where the model is least sure first, from `curate suggest`'s scores) or random.")] = "corpus",
    start: Annotated[Optional[str], typer.Option("--start", help="Open this snippet id first.", show_default=False)] = None,
    width: Annotated[int, typer.Option("--width", help="Wrap the text at most this many columns wide on a wide terminal (0: the window's width).")] = 100,
    seed: Annotated[int, typer.Option("--seed", min=0, help="The shuffle's seed for --order random (`curate queue --order random --seed S` lists the same order).")] = 0,
) -> None:
    """The annotation UI: story starts, boilerplate and entities; every change is saved at once.

    Every 10 snippets you mark done (`every` in corpus.toml's learning table), the corpus's models are fitted again in the background and the next snippets of your queue get new suggestions."""
    from curate.annotating import QUEUE_NAMES, AnnotatorDesk
    from curate.store import StoreError, check_annotator_name
    from curate.tui.keymap import KeymapError, load_keymap

    if queue not in QUEUE_NAMES:
        fail(f"--queue must be one of {', '.join(QUEUE_NAMES)}, not {queue!r}")
    from curate.queueing import ORDERS

    if order not in ORDERS:
        fail_plain(f"--order must be one of {', '.join(ORDERS)}, not {order!r}")
    if width < 0:
        fail("--width must be 0 (the window's width) or a number of columns")
    try:
        check_annotator_name(annotator)
        keymap = load_keymap()
    except (StoreError, KeymapError) as error:
        fail_plain(str(error))
    # Everything is checked before the journal is opened for writing, so a refusal leaves nothing behind.
    # The snippet index (built first on a fresh clone) is left to the worker unless --start needs it.
    corpus = open_corpus(directory, index_later=start is None)
    with closed_if_refused(corpus):
        start_position = corpus.position(start) if start is not None else None
        if start is not None and start_position is None:
            fail_plain(f"--start: no snippet with id {start!r} in {directory}")
        from curate.assign import check_in_team

        check_in_team(corpus, annotator)
        require_terminal("annotate")
        AnnotatorDesk.check_can_open(corpus, annotator)  # locked or read-only: refused before the screen

    def open_desk() -> AnnotatorDesk:
        """The slow part (reading, or indexing, the journal), run by the app in a worker."""
        desk = AnnotatorDesk(corpus, annotator, queue, order, seed)
        try:
            desk.start_at(start_position)  # --start, else where this annotator last was (corpus order) or the queue's start
        except BaseException:
            desk.close()
            raise
        return desk

    from curate.tui.app import AnnotateApp

    learning = learning_loop(corpus)
    ui = AnnotateApp(open_desk, keymap, text_width=width, opening=opening_message(corpus, annotator, directory), learning=learning)
    try:
        ui.run()
    finally:
        if learning is not None:
            learning.stop()  # a fit still running is killed: models/ stays as it was
        ui.wait_opened()  # quit while opening: the worker still finishes, then its desk is closed
        if ui.desk is not None:
            ui.desk.close()
        else:
            corpus.close()  # a failed AnnotatorDesk leaves the corpus open (closing twice is harmless)
    if ui.open_error is not None:
        if isinstance(ui.open_error, (StoreError, OSError)):
            fail_plain(cannot_open_message(ui.open_error))
        raise ui.open_error


@app.command()
def queue(
    directory: CorpusDir,
    annotator: Annotated[str, typer.Option("--annotator", help="Whose queue (their journal and assignment decide what is in it).", show_default=False)],
    queue_name: Annotated[str, typer.Option("--queue", help="Which snippets: todo, all, flagged, skipped or done.")] = "todo",
    order: Annotated[str, typer.Option("--order", help="corpus, uncertainty (least sure first, from the scores `curate suggest` stored) or random.")] = "corpus",
    seed: Annotated[int, typer.Option("--seed", min=0, help="The shuffle's seed for --order random.")] = 0,
    limit: Annotated[int, typer.Option("--limit", min=0, help="List at most this many (0: all).")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the queue as JSON lines: rank, position, id, score (null: not scored), status.")] = False,
) -> None:
    """List an annotator's queue in the order `curate annotate --order` works through it, with uncertainty scores.

    Each snippet's score is the corrections the models expect (0: none), written by `curate
    suggest`, so no model runs here."""
    from curate.annotating import QUEUE_NAMES
    from curate.queueing import ORDERS, queue_rows
    from curate.store import StoreError, check_annotator_name

    if queue_name not in QUEUE_NAMES:
        fail(f"--queue must be one of {', '.join(QUEUE_NAMES)}, not {markup_safe(queue_name)!r}")
    if order not in ORDERS:
        fail_plain(f"--order must be one of {', '.join(ORDERS)}, not {order!r}")
    try:
        check_annotator_name(annotator)
    except StoreError as error:
        fail_plain(str(error))
    corpus = open_corpus(directory)
    try:
        with stderr_progress("reading the queue") as progress:
            task = progress.add_task("reading the queue", total=None)
            rows = queue_rows(
                corpus, annotator, queue_name, order, seed, limit or None,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
                warn=lambda note: errors.print(terminal_safe(f"warning: {note}"), highlight=False, markup=False, soft_wrap=True),
            )
    except (StoreError, OSError) as error:
        fail_plain(save_message(error))
    finally:
        corpus.close()
    if as_json:
        import json

        print("".join(json.dumps(row.as_json(), ensure_ascii=False) + "\n" for row in rows), end="")
        return
    scored = sum(row.score is not None for row in rows)
    table = Table("rank", "id", "score", "status", title=f"{annotator}'s {queue_name} queue, {order} order")
    for row in rows:
        table.add_row(str(row.rank), markup_safe(row.snippet_id), "-" if row.score is None else f"{row.score:.3f}", row.status or "")
    console.print(table)
    console.print(f"{len(rows)} snippet(s), {scored} with an uncertainty score" + ("" if scored or not rows else "; `curate suggest --redo` scores them (a plain suggest keeps suggestions made without a scores file)"), highlight=False, markup=False)


def learning_loop(corpus):
    """`curate annotate`'s background refits: every `[learning] every` snippets marked done (0: never)."""
    from curate.learning_loop import DEFAULT_EVERY, LearningLoop

    every = DEFAULT_EVERY if corpus.config.learning is None else corpus.config.learning.every
    return LearningLoop(corpus.path, every=every) if every > 0 else None


def opening_message(corpus, annotator: str, directory: Path) -> str:
    """What the opening screen says while the journal is read (and indexed when it has no index yet)."""
    parts = []
    if not corpus.layout.snippet_index_meta.exists():
        parts.append(f"indexing {megabytes(corpus.snippets_path)} of {corpus.snippets_path.name}")
    path = corpus.journal_path(annotator)
    if path.exists():
        verb = "reading" if corpus.layout.journal_index(path).exists() else "indexing"
        shown = path.relative_to(corpus.path) if path.is_relative_to(corpus.path) else path
        parts.append(f"{verb} {megabytes(path)} of {shown}")
    return f"opening {directory}: {' and '.join(parts)}…" if parts else f"opening {directory}…"


def megabytes(path: Path) -> str:
    try:
        return f"{path.stat().st_size / 1e6:.1f} MB"
    except OSError:
        return "? MB"


def require_terminal(command: str) -> None:
    """Refuse a full-screen command whose stdin, stdout or stderr is not a terminal: the UI
    would write escape codes into a pipe or file and wait for keys that never come."""
    import sys

    def is_terminal(stream) -> bool:
        try:
            return stream is not None and stream.isatty()
        except (AttributeError, ValueError):
            return False

    missing = [name for name, stream in (("stdin", sys.stdin), ("stdout", sys.stdout), ("stderr", sys.stderr)) if not is_terminal(stream)]
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        fail(f"curate {command} needs a terminal: {' and '.join(missing)} {verb} not a TTY; run it in a terminal, without pipes or redirection")


def cannot_open_message(error: Exception) -> str:
    """One line for a corpus the UI cannot open for writing (read-only, locked, unreadable)."""
    from curate.store import StoreError, error_reason

    if isinstance(error, StoreError) or not isinstance(error, OSError):
        return str(error)
    where = f"{error.filename}: " if error.filename else ""
    return f"{where}{error_reason(error)}; nothing was written"


@contextmanager
def closed_if_refused(corpus):
    """Close `corpus` when opening the UI on it is refused: a store error as one line, anything else re-raised."""
    from curate.store import StoreError

    try:
        yield
    except (StoreError, OSError) as error:
        corpus.close()
        fail_plain(cannot_open_message(error))
    except BaseException:
        corpus.close()
        raise


@app.command()
def review(
    directory: CorpusDir,
    adjudicator: Annotated[str, typer.Option("--adjudicator", help="Your name; gold records say you decided.", show_default=False)],
    min_annotators: Annotated[int, typer.Option(help="Review snippets done by at least this many annotators.")] = 2,
    auto_accept: Annotated[bool, typer.Option("--auto-accept/--no-auto-accept", help="Merge snippets on which all annotators agree into gold without asking.")] = True,
    annotators: Annotated[Optional[str], typer.Option(help="Comma-separated annotators to compare (default: all).")] = None,
    width: Annotated[int, typer.Option("--width", help="Wrap the text at most this many columns wide on a wide terminal (0: the window's width).")] = 100,
) -> None:
    """The review UI: disagreements first, take majority or one annotator's choice, accept into gold."""
    from curate.reviewing import ReviewDesk
    from curate.store import StoreError, check_annotator_name
    from curate.tui.keymap import KeymapError, load_keymap

    if min_annotators < 1:
        fail("--min-annotators must be at least 1")
    if width < 0:
        fail("--width must be 0 (the window's width) or a number of columns")
    try:
        check_annotator_name(adjudicator)
        keymap = load_keymap(screen="review")
    except (StoreError, KeymapError) as error:
        fail_plain(str(error))
    corpus = open_corpus(directory)
    names = split_names(annotators)
    unknown = sorted(set(names or []) - set(corpus.annotators()))
    if unknown:
        fail(f"no journal for annotator(s) {', '.join(unknown)} in {corpus.annotations_dir}")
    with closed_if_refused(corpus):
        # before the desk: opening it merges agreed snippets into gold
        require_terminal("review")
        ReviewDesk.check_can_open(corpus, adjudicator)  # locked or read-only: refused before the screen

    def open_desk() -> ReviewDesk:
        """The slow part (every annotator's journal read, agreed snippets merged into gold), run
        by the app in a worker behind its opening screen."""
        return ReviewDesk.open_to_review(corpus, adjudicator, min_annotators=min_annotators, auto_accept=auto_accept, annotators=names)

    from curate.reviewing import NothingToReview
    from curate.tui.app import ReviewApp

    ui = ReviewApp(open_desk, keymap, text_width=width, opening=f"opening {directory} for review: reading the annotators' journals…")
    try:
        ui.run()
    finally:
        ui.wait_opened()  # quit while opening: the worker still finishes, then its desk is closed
        if ui.desk is not None:
            ui.desk.close()
        else:
            corpus.close()  # closing twice is harmless
    if isinstance(ui.open_error, NothingToReview):
        console.print(terminal_safe(str(ui.open_error)), highlight=False, markup=False)
        return
    if ui.open_error is not None:
        if isinstance(ui.open_error, (StoreError, OSError)):
            fail_plain(cannot_open_message(ui.open_error))
        raise ui.open_error
    desk = ui.desk
    if desk is None:
        return  # quit before the worker began
    console.print(f"{desk.accepted} snippet(s) accepted into gold, {desk.skipped} skipped, {desk.auto_accepted} merged without asking; {len(desk.gold)} gold in all")


@app.command()
def gold(
    directory: CorpusDir,
    strategy: Annotated[str, typer.Option(help="unanimous: merge only where all agree; majority: each item by more than half.")] = "unanimous",
    min_annotators: Annotated[int, typer.Option(help="Merge snippets done by at least this many annotators.")] = 2,
    annotators: Annotated[Optional[str], typer.Option(metavar="NAMES", help="Comma-separated annotators to merge (default: all).")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Also re-merge snippets that already have gold.")] = False,
) -> None:
    """Merge annotators' done records into gold.jsonl without a screen; ties are left for review."""
    from curate.adjudicate import merge_corpus
    from curate.store import StoreError

    if strategy not in ("unanimous", "majority"):
        fail(f"--strategy must be unanimous or majority, not {strategy!r}")
    corpus = open_corpus(directory)
    names = split_names(annotators)
    unknown = sorted(set(names or []) - set(corpus.annotators()))
    if unknown:
        fail(f"no journal for annotator(s) {', '.join(unknown)} in {corpus.annotations_dir}")
    try:
        report = merge_corpus(corpus, strategy, min_annotators=min_annotators, annotators=names, replace_existing=replace)
    except (StoreError, OSError) as error:
        fail_plain(save_message(error))
    console.print(
        f"{report.merged} snippet(s) merged into {corpus.layout.gold} ({strategy}); "
        f"{report.already_gold} already gold; {report.too_few} done by fewer than {min_annotators}; "
        f"{len(report.left_for_review)} left for review"
    )
    for snippet_id, reason in report.left_for_review:
        console.print(terminal_safe(f"  review {snippet_id}: {reason}"), highlight=False, markup=False)


@app.command()
def suggest(
    directory: CorpusDir,
    entities: Annotated[Optional[str], typer.Option(help="Entity model: a spaCy pipeline name or folder, hf:ID_OR_PATH (Hugging Face token classifier, extra 'transformers'), gliner:ID_OR_PATH (GLiNER asked for the corpus's labels, extra 'gliner'), or 'none' (default: the corpus's learned model, else en_core_web_sm).", show_default=False)] = None,
    boundaries: Annotated[str, typer.Option(help="auto: propose story starts; none: one story per snippet.")] = "auto",
    n_process: Annotated[int, typer.Option("--n-process", min=1, help="Worker processes (each loads its own model).")] = 1,
    learn: Annotated[bool, typer.Option("--learn", help="First fit the story-start model and the entity learner on gold and done annotations (saved in DIR/models/).")] = False,
    entity_learner: Annotated[str, typer.Option("--entity-learner", help="What --learn fits for entities: crf (a CRF over the model's tags, seconds) or fine-tune (the NER itself, minutes).")] = "crf",
    label_map: Annotated[Optional[str], typer.Option(help="Model label -> corpus label overrides, e.g. 'PERSON=PER,GPE=LOC,DATE=' (empty drops a label).", show_default=False)] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Snippets per batch (one write and fsync per batch).")] = 64,
    redo: Annotated[bool, typer.Option("--redo", help="Suggest again even for snippets already suggested by the same model.")] = False,
    engine: Annotated[str, typer.Option("--engine", help="local: this machine (with --n-process workers); ray: a Ray Data job, --n-process Ray workers (extra 'ray').")] = "local",
    address: Annotated[Optional[str], typer.Option("--address", help="--engine ray: the Ray cluster to join, e.g. auto (one started by `ray start --head` on this machine) or HOST:6379 (default: a local cluster for this run).", show_default=False)] = None,
) -> None:
    """Propose story starts, boilerplate, truncation and entities into suggestions.jsonl (resumable)."""

    from curate.store import StoreError
    from curate.suggest.service import SuggestError, SuggestOptions, run_suggest

    corpus = open_corpus(directory)
    options = SuggestOptions(entities=entities, boundaries=boundaries, n_process=n_process, learn=learn, label_map=label_map, batch_size=batch_size, redo=redo, entity_learner=entity_learner, engine=engine, address=address)
    with stderr_progress("{task.description}", remaining=True) as progress:
        tasks: dict[str, int] = {}

        def advance(stage: str, done: int, total: int | None) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total)
            progress.update(tasks[stage], completed=done, total=total)

        try:
            report = run_suggest(corpus, options, progress=advance)
        except (SuggestError, StoreError, OSError) as error:
            progress.stop()
            fail_plain(save_message(error))
        except KeyboardInterrupt as interrupt:  # Ctrl+C: whole batches are saved, and a second run skips them
            progress.stop()
            written = getattr(interrupt, "written", 0)
            errors.print(f"interrupted: {written} suggestion(s) written; run the command again to resume", highlight=False, markup=False, soft_wrap=True)
            raise typer.Exit(130) from None
    for message in report.messages:  # they may name a model's own labels: foreign text
        errors.print(terminal_safe(f"note: {message}"), highlight=False, markup=False, soft_wrap=True)
    for part, figures in report.learned.items():
        console.print(f"learned {part} from {figures['examples']} snippet(s) in {figures['seconds']} s", highlight=False)
    console.print(terminal_safe(f"{report.written} suggestion(s) written to {corpus.suggestions_path} as {report.annotator}; {report.skipped} already suggested"), highlight=False, markup=False)


@app.command("export")
def export_command(
    directory: CorpusDir,
    out: Annotated[Path, typer.Option("--out", help="The folder to write (refused if it exists and is not empty, unless --overwrite).", show_default=False)],
    source: Annotated[str, typer.Option("--source", help="'gold', or an annotator's name to export their finished (done) records.")] = "gold",
    fmt: Annotated[str, typer.Option("--format", help=format_help(EXPORT_FORMATS))] = "hf",
    splits: Annotated[Optional[str], typer.Option("--splits", help="Split fractions, e.g. 0.8,0.1,0.1 (train, validation, test); default from corpus.toml.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Changes which snippets land in which split (still decided by the snippet id).")] = 0,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace OUT if it holds an earlier export (never the corpus or other files).")] = False,
    no_dedup: Annotated[bool, typer.Option("--no-dedup", help="Place every snippet by its own id, even when a near-duplicate story links it to a page in another split.")] = False,
) -> None:
    """Export gold (or one annotator) as a Hugging Face dataset folder or in another tool's format."""
    from curate.export import ExportError, export_corpus, source_total
    from curate.store import StoreError

    corpus = open_corpus(directory)
    try:
        total = source_total(corpus, source) if source == "gold" or source in corpus.annotators() else None
        progress, advance = record_progress("exporting", total)
        with progress:
            report = export_corpus(corpus, out, source=source, fmt=fmt, splits=splits, seed=seed, overwrite=overwrite, on_progress=advance, dedup=not no_dedup)
    except (ExportError, StoreError, ValueError, OSError) as error:
        fail_plain(save_message(error))
    for message in report.skipped:
        errors.print(terminal_safe(f"skipped {message}"), highlight=False, markup=False, soft_wrap=True)
    for message in report.notes:
        errors.print(terminal_safe(f"note: {message}"), highlight=False, markup=False, soft_wrap=True)
    console.print(f"{report.snippets} snippet(s), {report.stories} stories exported as {fmt} to {out}", highlight=False, markup=False)
    for path in report.files:
        console.print(f"  {path}", highlight=False, markup=False)


@app.command()
def dedup(
    directory: CorpusDir,
    threshold: Annotated[float, typer.Option("--threshold", help="Estimated Jaccard similarity over word 3-grams at which two stories are near-duplicates.")] = 0.8,
    as_json: Annotated[bool, typer.Option("--json", help="Print the clusters as JSON.")] = False,
) -> None:
    """Find exact and near-duplicate stories across the corpus (cached in .curate/ until records change)."""
    import json

    from curate.dedup import find_duplicates
    from curate.store import StoreError

    if not 0.0 < threshold <= 1.0:
        fail(f"--threshold {threshold:g}: give a similarity above 0 and at most 1")
    corpus = open_corpus(directory)
    try:
        if as_json:
            result = find_duplicates(corpus, threshold)
        else:
            progress = stderr_progress("finding near-duplicates")
            task = progress.add_task("finding near-duplicates", total=None)

            def advance(done: int) -> None:
                progress.update(task, completed=done)  # called once a chunk of stories is read (snippets read so far)

            with progress:
                result = find_duplicates(corpus, threshold, on_total=lambda total: progress.update(task, total=total), on_progress=advance)
    except (StoreError, OSError) as error:
        fail_plain(save_message(error))
    finally:
        corpus.close()
    if as_json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
        return
    console.print(
        f"{result.stories} stories, {result.clustered} in {len(result.clusters)} cluster(s) of near-duplicates (threshold {threshold:g})"
        + (" (cached)" if result.cached else ""),
        highlight=False,
        markup=False,
    )
    if not result.clusters:
        return
    table = Table("cluster", "stories", "similarity", "members")
    for cluster in result.clusters[:10]:
        shown = ", ".join(f"{member.snippet_id}[{member.start}:{member.end}]" for member in cluster.members[:4])
        more = f" and {len(cluster.members) - 4} more" if len(cluster.members) > 4 else ""
        table.add_row(str(cluster.id), str(len(cluster.members)), f"{cluster.similarity:.2f}", markup_safe(shown + more))
    console.print(table)
    if len(result.clusters) > 10:
        console.print(f"... and {len(result.clusters) - 10} smaller cluster(s); --json lists them all", highlight=False, markup=False)


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The file to import (brat: a .ann file or a folder of .ann/.txt pairs).", show_default=False)],
    fmt: Annotated[str, typer.Option("--format", help=format_help(IMPORT_FORMATS), show_default=False)],
    corpus: Annotated[Path, typer.Option("--corpus", help="The corpus folder whose snippets the file's texts are matched to.", show_default=False)],
    annotator: Annotated[str, typer.Option("--annotator", help="The journal to write: annotations/NAME.jsonl.", show_default=False)],
    map_labels: Annotated[Optional[str], typer.Option("--map-labels", help="Rename the file's labels, e.g. PER=PERSON,LOC=GPE.")] = None,
    add_snippets: Annotated[bool, typer.Option("--add-snippets", help="Ingest texts the corpus lacks as new snippets (creating the corpus if missing) instead of refusing them.")] = False,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Skip records with a problem (each reported as file:line: reason) and import the rest, instead of refusing the file.")] = False,
    doc_per: Annotated[Optional[str], typer.Option("--doc-per", metavar="UNIT", help="CoNLL: one text per 'docstart' (-DOCSTART- line), 'sentence', or 'blank-lines' (sentences up to two blank lines). Default: docstart if the file has -DOCSTART- lines, else sentence.", show_default=False)] = None,
    binary: Annotated[str, typer.Option("--binary", metavar="MODE", help="Prodigy binary answers (ner.teach accept/reject of one suggested span) are not complete annotations: 'refuse' them, or 'merge' them per text into an in-progress record (accepted spans kept, rejected dropped).")] = "refuse",
    brat_triggers: Annotated[bool, typer.Option("--brat-triggers", help="brat: import event triggers (T lines named by E lines) as entities too; by default they are left out and counted.")] = False,
) -> None:
    """Turn Prodigy, doccano, Label Studio, brat or CoNLL annotations into an annotator's journal."""
    from curate.importing import ImportRefused, import_annotations
    from curate.labels import parse_label_map
    from curate.store import StoreError

    try:
        label_map = parse_label_map(map_labels)
        progress, advance = record_progress("importing", None)
        with progress:
            report = import_annotations(
                file, fmt, corpus, annotator, label_map=label_map, on_progress=advance, add_snippets=add_snippets,
                skip_invalid=skip_invalid, doc_per=doc_per, binary=binary, brat_triggers=brat_triggers,
            )
    except ImportRefused as error:
        for problem in error.problems:
            errors.print(terminal_safe(problem), highlight=False, markup=False, soft_wrap=True)
        hint = "" if skip_invalid else " (--skip-invalid imports the rest)"
        fail(f"import refused: {len(error.problems)} problem(s); nothing was written{hint}")
    except (StoreError, ValueError, OSError) as error:
        fail_plain(save_message(error))
    for message in report.skipped:
        errors.print(terminal_safe(f"skipped {message}"), highlight=False, markup=False, soft_wrap=True)
    for message in report.snapped + report.notes:
        errors.print(terminal_safe(f"note: {message}"), highlight=False, markup=False, soft_wrap=True)
    if report.not_imported:
        kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(report.not_imported.items()))
        errors.print(terminal_safe(f"note: not imported (curate has no place for them): {kinds}"), highlight=False, markup=False, soft_wrap=True)
    if report.duplicates:
        errors.print(f"note: {report.duplicates} record(s) repeated an earlier record of the file exactly (same text, same annotations) and were merged into it", highlight=False, markup=False, soft_wrap=True)
    by_tokens = f", {report.matched_by_tokens} text(s) onto {report.token_snippets} snippet(s) by tokens" if report.matched_by_tokens else ""
    skipped = f", {len(report.skipped)} skipped" if report.skipped else ""
    console.print(
        f"{report.records} record(s) imported into {report.journal}: {report.matched_by_id} matched by id, "
        f"{report.matched_by_text} by text{by_tokens}, {report.ingested} new snippet(s) ingested{skipped}",
        highlight=False,
        markup=False,
    )


@app.command("publish")
def publish_command(
    directory: CorpusDir,
    repo_id: Annotated[str, typer.Option("--repo-id", help="The Hub dataset repo, ORG/NAME.", show_default=False)],
    private: Annotated[bool, typer.Option("--private", help="Create the repo private.")] = False,
    source: Annotated[str, typer.Option("--source", help="'gold', or an annotator's name.")] = "gold",
    splits: Annotated[Optional[str], typer.Option("--splits", help="Split fractions, e.g. 0.8,0.1,0.1; default from corpus.toml.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the split assignment.")] = 0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Export and show the files and the card; upload nothing.")] = False,
) -> None:
    """Export the dataset folder and upload it to the Hugging Face Hub (token from HF_TOKEN or the saved login)."""
    from curate.export import ExportError
    from curate.export.publish import publish
    from curate.store import StoreError

    corpus = open_corpus(directory)
    try:
        progress, advance = record_progress("exporting", None)
        with progress:
            report = publish(corpus, repo_id, private=private, source=source, splits=splits, seed=seed, dry_run=dry_run, on_progress=advance)
    except (ExportError, StoreError, ValueError) as error:
        fail_plain(str(error))
    except Exception as error:  # noqa: BLE001 - network and Hub errors, shown without a traceback
        fail_plain(f"upload to {repo_id} failed: {type(error).__name__}: {error}")
    for message in report.export.skipped:
        errors.print(terminal_safe(f"skipped {message}"), highlight=False, markup=False, soft_wrap=True)
    if dry_run:
        console.print(f"dry run: would upload to datasets/{repo_id}{' (private)' if private else ''}:", highlight=False, markup=False)
        for name in report.files:
            console.print(f"  {name}", highlight=False, markup=False)
        import sys

        # The card exactly as written (no rich wrapping, which split table rows), control characters escaped.
        sys.stdout.write(terminal_safe(report.card if report.card.endswith("\n") else report.card + "\n", multiline=True))
        sys.stdout.flush()
        return
    console.print(f"uploaded {len(report.files)} file(s) to {report.url}", highlight=False, markup=False)


@app.command("agreement")
def agreement_command(
    directory: CorpusDir,
    annotators: Annotated[Optional[str], typer.Option("--annotators", metavar="NAMES", help="Comma-separated annotators to compare (default: every journal).", show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as one JSON object (the shape in docs/data-contract.md; null where undefined).")] = False,
    report_file: Annotated[Optional[Path], typer.Option("--report", metavar="FILE", help="Also write the tables and a confusion-matrix picture to FILE.md or FILE.html.", show_default=False)] = None,
    top: Annotated[int, typer.Option("--top", min=0, help="How many of the most disagreed snippets to list.")] = 10,
) -> None:
    """Inter-annotator agreement on boundaries, boilerplate and entities of `done` snippets."""
    import json as json_module

    from curate.agreement import AgreementError, agreement
    from curate.agreement.render import render
    from curate.agreement.report import REPORT_SUFFIXES, write_report
    from curate.store import StoreError

    if report_file is not None and report_file.suffix.lower() not in REPORT_SUFFIXES:
        fail(f"--report {report_file}: the file name must end in .md or .html")
    if report_file is not None and not report_file.parent.is_dir():
        fail_plain(f"--report {report_file}: there is no folder {report_file.parent}; make it first (curate writes only the report there)")
    names = split_names(annotators)
    if names is not None and len(set(names)) < 2:
        fail("--annotators: name at least two annotators to compare")
    corpus = open_corpus(directory)

    try:
        with stderr_progress("{task.description}") as bar:
            task = bar.add_task("agreement", total=None)

            def show(stage: str, done: int, total: int) -> None:
                bar.update(task, description=stage, completed=done, total=total)

            result = agreement(corpus, names, ranking_size=top, progress=show)
        damaged = []
        for name in result.annotators:
            with corpus.journal(name) as journal:
                damaged += [(journal.path, problem) for problem in journal.problems]
    except (AgreementError, StoreError, OSError) as error:
        fail_plain(save_message(error))
    finally:
        corpus.close()
    if damaged:
        errors.print(f"{len(damaged)} damaged line(s) in the compared journals, left out of the figures (`curate validate` shows them, `curate compact` drops them):", highlight=False, markup=False, soft_wrap=True)
        for path, problem in damaged:
            errors.print(terminal_safe(f"{path}:{problem.line}: {problem.reason}"), highlight=False, markup=False, soft_wrap=True)
    if as_json:
        print(json_module.dumps(result.to_json(), ensure_ascii=False))
    else:
        console.print(render(result))
    if report_file is not None:
        try:
            written = write_report(result, report_file)
        except OSError as error:
            fail(f"--report {report_file}: {error.strerror or error}")
        errors.print(f"report written to {', '.join(str(path) for path in written)}", highlight=False, markup=False, soft_wrap=True)


if __name__ == "__main__":
    app()
