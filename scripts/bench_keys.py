"""Editor cost: how many keys the annotate screen needs to turn each suggestion into its gold record.

    .venv/bin/python scripts/bench_keys.py DIR --gold FILE [--annotator NAME] [--json] [--size 120x40]

For each record of FILE (gold records in the annotation shape), the real annotate screen is
driven headless (Textual's Pilot) from the snippet's suggestion (or an empty record when there
is none) to the gold: a planner that knows the gold (`keyplan.py`) picks the cheapest keys it
can find among the screen's default bindings (curate/tui/keymap.py), one key press each
(`shift+right` is one), and the driver presses them one by one, reading the cursor and the
record back from the screen after each and planning again from there when a prediction was
wrong. Every key pressed counts. It ends with the `done` key; the work is saved as NAME
(default `bench`), and the saved record is read back from the corpus and compared with the
gold: stories with truncated flags, boilerplate with kinds, entities, status done.

Prints `{"snippets", "reached", "keys", "moves", "edits", "items", "keys_per_item", "seconds",
"mispredicted", "per_snippet": [{"id", "keys", "moves", "edits", "items", "reached"}]}`:
moves are the keys of the keymap's `move` group (cursor, jumps, selection), edits everything
else (labels, `x`, `b`, `c`/`C` and the kind chosen after it, `t`, `=`, the span keys, a `y` a
guard asks for, `enter`); items are the
corrections between the starting record and the gold (a story start added or removed, a
truncation flag, a paragraph's boilerplate, an entity added, removed, relabelled or re-spanned).
NAME must have no records in DIR yet (the run must start from the suggestions).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from keyplan import NAVIGATION, Cursor, Page, Planner, Step, corrected_items, same_marks  # noqa: E402

from curate.console import terminal_safe  # noqa: E402
from curate.model import Annotation, validation_reason  # noqa: E402
from curate.store import Corpus, StoreError, check_annotator_name  # noqa: E402

DEFAULT_SIZE = (120, 40)


class BenchError(Exception):
    """Bad input: one line, `file:line: reason`."""


@dataclass
class SnippetResult:
    id: str
    keys: int = 0
    moves: int = 0
    edits: int = 0
    items: int = 0
    reached: bool = False
    mispredicted: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    trace: list[str] = field(default_factory=list)  # every key pressed

    def row(self) -> dict:
        return {"id": self.id, "keys": self.keys, "moves": self.moves, "edits": self.edits, "items": self.items, "reached": self.reached}


# ---------------------------------------------------------------- input


def read_gold(path: Path, corpus: Corpus) -> list[tuple[int, Annotation]]:
    """(corpus position, gold record) per line of FILE; BenchError names the first bad line."""
    labels = {label.name for label in corpus.config.labels}
    kinds = set(corpus.config.boilerplate_kinds)
    fields = set(Annotation.model_fields)
    seen: dict[str, int] = {}
    golds: list[tuple[int, Annotation]] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise BenchError(f"{path}: cannot read: {getattr(error, 'strerror', None) or error}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as error:
            raise BenchError(f"{where}: not JSON ({error.msg})") from None
        if not isinstance(data, dict):
            raise BenchError(f"{where}: a record must be a JSON object")
        try:
            gold = Annotation.model_validate({key: value for key, value in data.items() if key in fields})
        except ValidationError as error:
            raise BenchError(f"{where}: {validation_reason(error)}") from None
        position = corpus.position(gold.snippet_id)
        if position is None:
            raise BenchError(f"{where}: no snippet {gold.snippet_id!r} in {corpus.path}")
        if gold.snippet_id in seen:
            raise BenchError(f"{where}: snippet {gold.snippet_id!r} again (first on line {seen[gold.snippet_id]})")
        seen[gold.snippet_id] = number
        length = len(corpus.snippet(position).text)
        if gold.text_length != length:
            raise BenchError(f"{where}: the stories cover {gold.text_length} characters, snippet {gold.snippet_id!r} has {length}")
        unknown = sorted({entity.label for entity in gold.entities} - labels)
        if unknown:
            raise BenchError(f"{where}: label {unknown[0]!r} is not one of the corpus's labels ({', '.join(sorted(labels))})")
        strange = sorted({item.kind for item in gold.boilerplate} - kinds) if kinds else []
        if strange:
            raise BenchError(f"{where}: boilerplate kind {strange[0]!r} is not one of the corpus's kinds ({', '.join(sorted(kinds))})")
        golds.append((position, gold))
    return golds


# ---------------------------------------------------------------- the screen


def binding_keys() -> tuple[dict[str, str], dict[str, str]]:
    """(binding id -> the first key it answers to, binding id -> its group) from the default keymap."""
    from curate.tui.keymap import ANNOTATE_KEYS

    keys = {spec.id: spec.keys.split(",")[0].strip() for spec in ANNOTATE_KEYS}
    groups = {spec.id: spec.group for spec in ANNOTATE_KEYS}
    return keys, groups


def screen_vertical(view, model):
    """Where `j`/`k` put the cursor, read from the view's current line layout without moving it
    (the steps of SnippetView.move_vertically); remembered until the layout changes."""
    from curate.tui.document import TEXT, x_of_offset

    cache: dict[tuple[int, int | None, int], tuple[int, int] | None] = {}

    def vertical(token: int, goal_x: int | None, step: int) -> tuple[int, int] | None:
        key = (token, goal_x, step)
        if key in cache:
            return cache[key]
        found = None
        start = model.tokens[token][0]
        y = view.line_of_offset(start)
        line = view.document_line(y)
        if line is not None:
            goal = x_of_offset(view.display_text, line, start) if goal_x is None else goal_x
            target = y + step
            while 0 <= target < view.line_count:
                candidate = view.document_line(target)
                if candidate is not None and candidate.kind == TEXT and candidate.end > candidate.start:
                    found = (view._token_on_line(candidate, goal), goal)
                    break
                target += step
        cache[key] = found
        return found

    return vertical


class Driver:
    """Presses a plan's keys on the real screen and counts them."""

    def __init__(self, app, pilot, keys: dict[str, str], groups: dict[str, str]) -> None:
        self.app = app
        self.pilot = pilot
        self.keys = keys
        self.groups = groups

    @property
    def screen(self):
        from curate.tui.screens.annotate import AnnotateScreen

        for screen in reversed(self.app.screen_stack):
            if isinstance(screen, AnnotateScreen):
                return screen
        raise RuntimeError("the annotate screen is gone")

    def state(self) -> tuple[Annotation, Cursor]:
        screen = self.screen
        view = screen.view
        cursor = Cursor(view.cursor, getattr(view, "_goal_x", None), view.anchor, getattr(screen, "last_search", None))
        return screen.opened.session.record, cursor

    async def press(self, key: str, result: SnippetResult, move: bool) -> None:
        await self.send_key(key)
        result.trace.append(key)
        result.keys += 1
        if move:
            result.moves += 1
        else:
            result.edits += 1

    async def step(self, step: Step, kinds: list[str], result: SnippetResult) -> None:
        """One planned key, then whatever a prompt it opens asks (the kind, a yes)."""
        from curate.tui.screens.prompts import ConfirmPrompt, KindChooser

        await self.press(self.keys[step.binding], result, self.groups.get(step.binding) == "move")
        for _ in range(3):
            modal = self.app.screen
            if isinstance(modal, KindChooser):
                if step.kind in modal.kinds:
                    await self.press(str(modal.kinds.index(step.kind) + 1), result, False)
                else:
                    result.problems.append(f"{step.binding}: a kind chooser opened unplanned")
                    await self.press("escape", result, False)
            elif isinstance(modal, ConfirmPrompt):
                await self.press("y", result, False)  # a guard's question: the gold says yes
            else:
                return

    async def send_key(self, key: str) -> None:
        """Press one key as Pilot.press does, but wait only until the app and the screen have
        handled it (twice: a prompt's answer arrives as a message of its own), not for the
        process to go idle, which costs 40 ms or more a key on a busy machine."""
        from textual import events
        from textual.keys import REPLACED_KEYS, _character_to_key, _get_unicode_name_from_key

        name = _character_to_key(key) if len(key) == 1 and not key.isalnum() else key
        try:
            character = unicodedata.lookup(_get_unicode_name_from_key(REPLACED_KEYS.get(name, name)))
        except KeyError:
            character = name if len(name) == 1 else None
        event = events.Key(name, character)
        event.set_sender(self.app)
        self.app._driver.send_message(event)
        for _ in range(2):
            await self.pilot._wait_for_screen()

    async def go_to(self, snippet_id: str) -> None:
        from curate.tui.messages import GoToSnippet

        screen = self.screen
        if screen.opened is None or screen.opened.snippet.id != snippet_id:
            screen.post_message(GoToSnippet(snippet_id))
            await self.pilot.pause()


async def correct_snippet(driver: Driver, gold: Annotation, corpus_config, key_limit: int | None = None) -> SnippetResult:
    """Drive the open snippet from what it shows to `gold`, then press `done`."""
    result = SnippetResult(gold.snippet_id)
    started = time.perf_counter()
    await driver.go_to(gold.snippet_id)
    screen = driver.screen
    session = screen.opened.session
    model = session.model
    kinds = list(corpus_config.boilerplate_kinds)
    label_bindings = {label.name: f"label-{label.key}" for label in corpus_config.labels}
    page = Page(model, gold, label_bindings, kinds, frozenset(driver.keys))
    result.items = corrected_items(page, session.record)
    planner = Planner(page)
    misses: Counter[str] = Counter()
    failures: Counter[tuple[str, int]] = Counter()
    limit = key_limit if key_limit is not None else 200 + 30 * result.items
    while result.keys < limit:
        record, cursor = driver.state()
        page.vertical = screen_vertical(screen.view, model)
        page.suggestion = getattr(session, "suggestion", None)
        page.accepted = frozenset(getattr(session, "accepted", ()))
        planned = planner.next_plan(record, cursor)
        if planned is None:
            break
        finished = True
        for step, expected_cursor, expected_record in planned.steps:
            await driver.step(step, kinds, result)
            record, cursor = driver.state()
            if cursor.token == expected_cursor.token and (cursor.anchor is None) == (expected_cursor.anchor is None) and same_marks(record, expected_record):
                continue
            result.mispredicted += 1
            finished = False
            if step.binding in NAVIGATION:
                misses[step.binding] += 1
                if misses[step.binding] >= 2:
                    planner.disabled.add(step.binding)
                    result.problems.append(f"{step.binding}: landed elsewhere than modelled twice; not used again here")
            else:
                failures[planned.action.key] += 1
                if failures[planned.action.key] >= 2:
                    planner.given_up.add(planned.action.key)
                    result.problems.append(f"{planned.action.name} at {planned.action.position}: the screen did otherwise twice")
            break
        if finished:
            planner.stuck.clear()
    else:
        result.problems.append(f"stopped after {result.keys} keys")
    for action in planner.stuck | planner.given_up:
        result.problems.append(f"no keys found for {action[0]} at {action[1]}")
    await driver.step(Step("done"), kinds, result)
    result.seconds = time.perf_counter() - started
    return result


async def drive(directory: Path, golds: list[tuple[int, Annotation]], annotator: str, size: tuple[int, int]) -> list[SnippetResult]:
    from curate.annotating import AnnotatorDesk
    from curate.tui.app import AnnotateApp

    keys, groups = binding_keys()
    desk = AnnotatorDesk.open(directory, annotator, "all")
    results = []
    try:
        app = AnnotateApp(desk, None, cursor_blink=False)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            driver = Driver(app, pilot, keys, groups)
            for _, gold in golds:
                results.append(await correct_snippet(driver, gold, desk.corpus.config))
    finally:
        desk.close()
    return results


def check_saved(directory: Path, annotator: str, golds: list[tuple[int, Annotation]], results: list[SnippetResult]) -> None:
    """reached: the record saved in the corpus equals the gold and is done."""
    with Corpus.open(directory) as corpus:
        with corpus.journal(annotator) as journal:
            for (position, gold), result in zip(golds, results):
                saved = journal.record_at(position)
                result.reached = saved is not None and saved.status == "done" and same_marks(saved, gold)


def summary(results: list[SnippetResult], seconds: float) -> dict:
    keys = sum(r.keys for r in results)
    items = sum(r.items for r in results)
    return {
        "snippets": len(results),
        "reached": sum(r.reached for r in results),
        "keys": keys,
        "moves": sum(r.moves for r in results),
        "edits": sum(r.edits for r in results),
        "items": items,
        "keys_per_snippet": round(keys / len(results), 2) if results else None,
        "keys_per_item": round(keys / items, 3) if items else None,
        "mispredicted": sum(r.mispredicted for r in results),
        "seconds": round(seconds, 2),
        "per_snippet": [r.row() for r in results],
    }


def run(directory: Path, gold_path: Path, annotator: str = "bench", size: tuple[int, int] = DEFAULT_SIZE) -> tuple[dict, list[SnippetResult]]:
    """Run the benchmark; BenchError (one line) on bad input, before anything is saved."""
    check_annotator_name(annotator)
    with Corpus.open(directory) as corpus:
        golds = read_gold(gold_path, corpus)
        if annotator in corpus.annotators():
            raise BenchError(f"{directory}: annotator {annotator!r} already has records there; the benchmark starts from the suggestions, so name another with --annotator")
    started = time.perf_counter()
    results = asyncio.run(drive(directory, golds, annotator, size))
    check_saved(directory, annotator, golds, results)
    return summary(results, time.perf_counter() - started), results


def print_table(figures: dict, results: list[SnippetResult]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="keys from suggestion to gold")
    for name in ("snippet", "items", "keys", "moves", "edits", "reached"):
        table.add_column(name, justify="left" if name == "snippet" else "right")
    for result in results:
        table.add_row(terminal_safe(result.id), str(result.items), str(result.keys), str(result.moves), str(result.edits), "yes" if result.reached else "[red]no[/]")
    console = Console()
    console.print(table)
    console.print(
        f"{figures['reached']}/{figures['snippets']} reached · {figures['keys']} keys ({figures['moves']} moves, "
        f"{figures['edits']} edits) · {figures['keys_per_item']} keys per corrected item ({figures['items']} items) · "
        f"{figures['seconds']} s",
        markup=False,
    )
    for result in results:
        for problem in result.problems:
            console.print(f"{terminal_safe(result.id)}: {terminal_safe(problem)}", markup=False, style="yellow")


def parse_size(value: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in value.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not WIDTHxHEIGHT, e.g. 120x40") from None
    if width < 20 or height < 10:
        raise argparse.ArgumentTypeError(f"{value!r} is too small (at least 20x10)")
    return width, height


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path, metavar="DIR", help="the corpus folder")
    parser.add_argument("--gold", type=Path, required=True, metavar="FILE", help="gold records (JSONL, the annotation shape)")
    parser.add_argument("--annotator", default="bench", metavar="NAME", help="save the work as NAME (default: bench)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--trace", action="store_true", help="also print every key pressed, per snippet, to stderr")
    parser.add_argument("--size", type=parse_size, default=DEFAULT_SIZE, metavar="WxH", help="terminal size (default 120x40)")
    args = parser.parse_args(argv)
    try:
        figures, results = run(args.directory, args.gold, args.annotator, args.size)
    except (BenchError, StoreError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.trace:
        for result in results:
            print(f"{terminal_safe(result.id)} ({result.seconds:.1f} s): {' '.join(result.trace)}", file=sys.stderr)
            for problem in result.problems:
                print(f"{terminal_safe(result.id)}: {terminal_safe(problem)}", file=sys.stderr)
    if args.json:
        print(json.dumps(figures))
    else:
        print_table(figures, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
