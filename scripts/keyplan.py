"""The planner of `bench_keys.py`: which keys turn a snippet's record into its gold record.

No Textual here. The planner knows the gold record and the annotate screen's bindings (by
binding id); it models where each navigation key puts the cursor and what each editing key does
to the record with the same pure functions the screen calls (`curate.editing`). The one thing it
cannot compute alone, where `j`/`k` land on the wrapped screen lines, it asks through
`Page.vertical`, which the driver answers from the real screen's layout.

A correction (`Action`) is one difference between the record and the gold: a story start to add
or remove, a truncation flag, a paragraph's boilerplate, an entity to add, remove, relabel or
re-span. Each offers one or more ways to do it (`Way`: the tokens the cursor may be on, then the
keys to press there; or a selection to make, or a wider selection, as `o` and `i` leave one, to
label and then shrink with the span keys). `next_plan` takes the earliest pending correction in text order, finds the
cheapest way with a breadth-first search over the navigation keys, and returns the keys with
the cursor and record it expects after each; the driver presses them on the real screen and
plans again from what the screen really shows.

New navigation keys plug in through `NAVIGATION`: binding id -> function giving where the cursor
lands. Any id in that table that the keymap also has is used; nothing else changes.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from curate import editing
from curate.editing import (
    EditRefused,
    apply_edit,
    entity_index_at,
    label_all_occurrences,
    label_at_cursor,
    label_span,
    next_paragraph_token,
    next_story_token,
    paragraph_is_boilerplate,
    remove_entities,
    selection_limit,
    snap_to_tokens,
    toggle_boilerplate,
    toggle_story_start,
    toggle_truncated,
)
from curate.model import Annotation
from curate.text import TextModel

try:  # the jump keys' landings (absent before the jump keys existed: the table then lacks them)
    from curate import navigation
except ImportError:  # pragma: no cover
    navigation = None


@dataclass(frozen=True)
class Cursor:
    """Where the screen's cursor is: its token, the column `j`/`k` aim for, the selection's
    anchor, and the last search (what `;` and `,` repeat)."""

    token: int
    goal_x: int | None = None
    anchor: int | None = None
    search: object | None = None

    def to(self, token: int) -> "Cursor":
        """On `token`, nothing selected (a plain move)."""
        return Cursor(token, None, None, self.search)

    def selecting(self, first: int, last: int) -> "Cursor":
        """The screen's select_tokens: the cursor on `last`, the selection from `first` (one token: none)."""
        return Cursor(last, None, first if first != last else None, self.search)


@dataclass(frozen=True)
class Step:
    """One key by binding id; `kind` is the boilerplate kind chosen after `c` (the chooser's digit)."""

    binding: str
    kind: str | None = None


# Where the cursor may land after j/k: (token, goal column) or None when there is no line there.
Vertical = Callable[[int, int | None, int], "tuple[int, int] | None"]


@dataclass
class Page:
    """One snippet as the planner sees it."""

    model: TextModel
    gold: Annotation
    label_bindings: dict[str, str]  # label name -> binding id ("PER" -> "label-1")
    kinds: list[str]  # the corpus's boilerplate kinds, in the chooser's order
    bindings: frozenset[str]  # binding ids the screen has
    vertical: Vertical | None = None
    # What the review jump (r/R) walks: the suggestion the session opened from and the items the
    # editor accepted so far (read from the screen before each plan).
    suggestion: Annotation | None = None
    accepted: frozenset = frozenset()

    def __post_init__(self) -> None:
        self.labels_of_binding = {binding: label for label, binding in self.label_bindings.items()}
        # Every sentence as (boundary where `b` puts a story start, sentence start, its tokens).
        self.sentences: list[tuple[int, int, range]] = []
        for paragraph in self.model.paragraphs:
            for start, end in paragraph.sentences:
                self.sentences.append((self.model.boundary_offset(start), start, self.token_range(start, end)))

    def token_range(self, start: int, end: int) -> range:
        """Indexes of the tokens inside [start, end)."""
        starts = self.model.token_starts
        return range(bisect_left(starts, start), bisect_left(starts, end))

    def clamp(self, token: int) -> int:
        return max(0, min(token, len(self.model.tokens) - 1))

    def per_record(self, record: Annotation, name: str, compute: Callable[[], object]):
        """`compute()` once per record: jump targets are asked for thousands of times a plan."""
        key = (id(record), self.accepted, name)
        cache = self.__dict__.setdefault("_cache", {})
        if cache.get("record") is not record:
            cache.clear()
            cache["record"] = record  # held, so its id is not reused while cached
        if key not in cache:
            cache[key] = compute()
        return cache[key]


# ---------------------------------------------------------------- navigation keys

Landing = Callable[[Page, Annotation, Cursor], "Cursor | None"]


def _vertical(step: int) -> Landing:
    def land(page: Page, record: Annotation, cursor: Cursor) -> Cursor | None:
        if page.vertical is None:
            return None
        found = page.vertical(cursor.token, cursor.goal_x, step)
        return None if found is None else Cursor(found[0], found[1], None, cursor.search)

    return land


def _before_after(targets: list[int], token: int, step: int) -> int | None:
    """The first target after `token` (step 1) or the last before it (step -1)."""
    if step > 0:
        index = bisect_right(targets, token)
        return targets[index] if index < len(targets) else None
    index = bisect_left(targets, token) - 1
    return targets[index] if index >= 0 else None


def _entity(step: int) -> Landing:
    """navigation.entity_token, from each entity's first token computed once per record."""

    def land(page: Page, record: Annotation, cursor: Cursor) -> Cursor | None:
        firsts = page.per_record(record, "entities", lambda: sorted({navigation.entity_first_token(page.model, e.start) for e in record.entities}))
        found = _before_after(firsts, cursor.token, step)
        return None if found is None else cursor.to(found)

    return land


def _review(step: int) -> Landing:
    """navigation.review_step's target: the next (previous) token holding an item to review."""

    def land(page: Page, record: Annotation, cursor: Cursor) -> Cursor | None:
        if page.suggestion is None:
            return None

        def item_tokens() -> list[int]:
            items = navigation.items_to_review(page.suggestion, record, set(page.accepted))
            return sorted({navigation.item_token(page.model, item) for item in items})

        found = _before_after(page.per_record(record, "review", item_tokens), cursor.token, step)
        return None if found is None else cursor.to(found)

    return land


def _name_runs(page: Page, record: Annotation) -> list[tuple[int, int]]:
    """Every run of capitalised tokens without a label, walked with navigation.name_run."""
    runs: list[tuple[int, int]] = []
    first = navigation.name_run(record, page.model, 1, -1) if len(page.model.tokens) > 1 else None
    if first is not None and first[0] == 0:
        runs.append(first)
    token = runs[0][1] if runs else 0
    while True:
        found = navigation.name_run(record, page.model, token, 1)
        if found is None or (runs and found[0] <= runs[-1][0]):
            return runs
        runs.append(found)
        token = found[1]


def _name(step: int) -> Landing:
    """navigation.name_run: forward, the first run starting after the cursor; backward, the last
    run starting before it."""

    def land(page: Page, record: Annotation, cursor: Cursor) -> Cursor | None:
        runs = page.per_record(record, "names", lambda: _name_runs(page, record))
        firsts = [first for first, _ in runs]
        found = _before_after(firsts, cursor.token, step)
        if found is None:
            return None
        first, last = runs[firsts.index(found)]
        return cursor.selecting(first, last) if step > 0 else cursor.selecting(last, first)

    return land


def _check(step: int) -> Landing:
    """navigation.check_step: a run without a label is selected (as `o` does), an entity in
    doubt gets the cursor on its first token; backward, the cursor goes to the place's start."""

    def land(page: Page, record: Annotation, cursor: Cursor) -> Cursor | None:
        places = page.per_record(record, "checks", lambda: navigation.check_places(record, page.model))
        firsts = page.per_record(record, "check-firsts", lambda: [place.first for place in places])
        if step > 0:
            index = bisect_right(firsts, cursor.token)
            place = places[index] if index < len(places) else None
        else:
            index = bisect_left(firsts, cursor.token) - 1
            place = places[index] if index >= 0 else None
        if place is None:
            return None
        if not place.select:
            return cursor.to(place.first)
        return cursor.selecting(place.first, place.last) if step > 0 else cursor.selecting(place.last, place.first)

    return land


def _search(page: Page, cursor: Cursor, search, offset: int) -> Cursor | None:
    model = page.model
    found = navigation.find_match(model, search, offset)
    if found is None:
        return None
    (start, end), _ = found
    start, end = snap_to_tokens(model, start, end) or (start, end)
    first, last = model.token_at(start), model.token_at(max(start, end - 1))
    landed = replace(cursor, search=search).selecting(first, selection_limit(model, first, last))
    return landed


def _search_token(backward: bool) -> Landing:
    def land(page: Page, record: Annotation, cursor: Cursor) -> Cursor | None:
        start, end = editing.label_target(record, page.model, cursor.token, None)
        return _search(page, cursor, navigation.Search(page.model.text[start:end], backward, whole_tokens=True), start)

    return land


def _search_again(reverse: bool) -> Landing:
    def land(page: Page, record: Annotation, cursor: Cursor) -> Cursor | None:
        if cursor.search is None:
            return None
        search = cursor.search.reversed() if reverse else cursor.search
        landed = _search(page, cursor, search, _target_span(page, cursor)[0])
        return None if landed is None else replace(landed, search=cursor.search)

    return land


def _target_span(page: Page, cursor: Cursor) -> tuple[int, int]:
    """The selection's characters, else the cursor token's."""
    tokens = page.model.tokens
    if cursor.anchor is None:
        return tokens[cursor.token]
    low, high = sorted((cursor.anchor, cursor.token))
    return tokens[low][0], tokens[high][1]


# binding id -> where the cursor lands (None: the key does not move it). Add a row for a new
# jump key and the planner uses it wherever the keymap has that binding id.
NAVIGATION: dict[str, Landing] = {
    "cursor-left": lambda page, record, cursor: cursor.to(page.clamp(cursor.token - 1)),
    "cursor-right": lambda page, record, cursor: cursor.to(page.clamp(cursor.token + 1)),
    "cursor-up": _vertical(-1),
    "cursor-down": _vertical(1),
    "paragraph-next": lambda page, record, cursor: cursor.to(next_paragraph_token(page.model, cursor.token, 1)),
    "paragraph-previous": lambda page, record, cursor: cursor.to(next_paragraph_token(page.model, cursor.token, -1)),
    "story-next": lambda page, record, cursor: cursor.to(next_story_token(record, page.model, cursor.token, 1)),
    "story-previous": lambda page, record, cursor: cursor.to(next_story_token(record, page.model, cursor.token, -1)),
}
if navigation is not None:
    NAVIGATION.update(
        {
            "entity-next": _entity(1),
            "entity-previous": _entity(-1),
            "suggestion-next": _review(1),
            "suggestion-previous": _review(-1),
            "name-next": _name(1),
            "name-previous": _name(-1),
            "search-token-forward": _search_token(False),
            "search-token-backward": _search_token(True),
            "search-repeat": _search_again(False),
            "search-repeat-reverse": _search_again(True),
            "check-next": _check(1),
            "check-previous": _check(-1),
        }
    )

# Keys that extend the selection one token (within the anchor's paragraph).
SELECT = {"select-left": -1, "select-right": 1}


# ---------------------------------------------------------------- what a key does

# Entity edges moved by the span keys: binding id -> (edge, step).
RESIZE = {
    "entity-grow-start": ("start", -1),
    "entity-shrink-start": ("start", 1),
    "entity-shrink-end": ("end", -1),
    "entity-grow-end": ("end", 1),
}
# Keys whose effect depends on the selection (the others act on the cursor token).
SELECTION_KEYS = frozenset({"remove-entity"})


def simulate(page: Page, record: Annotation, cursor: Cursor, step: Step) -> tuple[Annotation, Cursor]:
    """The record and cursor after one key, as the annotate screen does it."""
    model = page.model
    binding = step.binding
    if binding in NAVIGATION:
        landed = NAVIGATION[binding](page, record, cursor)
        return record, cursor if landed is None else landed
    if binding in SELECT:
        anchor = cursor.token if cursor.anchor is None else cursor.anchor
        token = selection_limit(model, anchor, page.clamp(cursor.token + SELECT[binding]))
        return record, Cursor(token, None, anchor, cursor.search)
    if binding == "clear-selection":
        return record, replace(cursor, anchor=None)
    offset = model.tokens[cursor.token][0]
    selection = _target_span(page, cursor) if cursor.anchor is not None else None
    moved = cursor.token
    try:
        if binding in page.labels_of_binding:
            label = page.labels_of_binding[binding]
            if selection is not None:
                edit = label_span(record, model, selection[0], selection[1], label)
            else:
                edit = label_at_cursor(record, model, cursor.token, label)
        elif binding == "remove-entity":
            start, end = selection or model.tokens[cursor.token]
            edit = remove_entities(record, start, end)
        elif binding == "label-all":
            edit = label_all_occurrences(record, model, offset)
        elif binding == "story-start":
            edit = toggle_story_start(record, model, offset)
        elif binding == "truncated":
            edit = toggle_truncated(record, offset)
        elif binding in ("boilerplate", "boilerplate-kind"):
            paragraph = model.paragraph_at(offset)
            kinds = page.kinds or ["boilerplate"]
            marked = paragraph_is_boilerplate(record, model, paragraph)
            if binding == "boilerplate" and (marked or len(kinds) == 1):
                edit = toggle_boilerplate(record, model, paragraph, kinds[0])
            else:
                kind = kinds[0] if len(kinds) == 1 else step.kind
                if kind is None:
                    return record, cursor
                if binding == "boilerplate":
                    edit = toggle_boilerplate(record, model, paragraph, kind)
                else:
                    edit = editing.set_boilerplate_kind(record, model, paragraph, kind)
        elif binding in RESIZE:
            edge, direction = RESIZE[binding]
            edit = editing.resize_entity(record, model, cursor.token, edge, direction)
            after = apply_edit(record, edit)
            if entity_index_at(after, model.tokens[cursor.token][0]) is None:
                moved = cursor.token + (1 if edge == "start" else -1)  # the screen keeps the cursor on the entity
            return after, Cursor(moved, cursor.goal_x if moved == cursor.token else None, None, cursor.search)
        else:
            raise ValueError(f"the planner does not know what {binding!r} does")
    except EditRefused:
        return record, cursor
    return apply_edit(record, edit), replace(cursor, anchor=None)


def key_cost(page: Page, step: Step) -> int:
    """Keys one step takes: a kind chosen after `c` or `C` is a second key."""
    return 2 if step.kind is not None and len(page.kinds) > 1 else 1


def same_marks(one: Annotation, other: Annotation) -> bool:
    """Stories (with flags), boilerplate (with kinds) and entities (with labels) all equal."""
    return (
        [(s.start, s.end, s.truncated) for s in one.stories] == [(s.start, s.end, s.truncated) for s in other.stories]
        and [(b.start, b.end, b.kind) for b in one.boilerplate] == [(b.start, b.end, b.kind) for b in other.boilerplate]
        and [(e.start, e.end, e.label) for e in one.entities] == [(e.start, e.end, e.label) for e in other.entities]
    )


# ---------------------------------------------------------------- corrections


@dataclass(frozen=True)
class Way:
    """One way to make a correction: with the cursor on one of `tokens` (and nothing selected
    when the keys care), press `steps`; or, with `span` = (first, last) tokens, select exactly
    them and press `steps` (a label)."""

    tokens: frozenset[int] = frozenset()
    steps: tuple[Step, ...] = ()
    span: tuple[int, int] | None = None
    # With `cover` = (first, last): a selection (as `o` or `e` leave one) holding those tokens
    # and none of `blocked` (tokens of other entities) is labelled with `steps`, then its edges
    # are moved onto first..last with the span keys.
    cover: tuple[int, int] | None = None
    blocked: frozenset[int] = frozenset()

    def finish(self, state: Cursor) -> tuple[Step, ...] | None:
        """The keys still to press from `state`, or None when this way does not start there."""
        if self.cover is not None:
            if state.anchor is None:
                return None
            low, high = sorted((state.anchor, state.token))
            first, last = self.cover
            if low > first or high < last or (low, high) == (first, last) or any(token in self.blocked for token in range(low, high + 1)):
                return None
            return (*self.steps, *[Step("entity-shrink-start")] * (first - low), *[Step("entity-shrink-end")] * (high - last))
        if self.span is None:
            if state.token not in self.tokens:
                return None
            if state.anchor is not None and self.steps and (self.steps[0].binding in SELECTION_KEYS or self.steps[0].binding.startswith("label-")):
                return (Step("clear-selection"), *self.steps)
            return self.steps
        first, last = self.span
        if state.anchor is None:
            if state.token == first and first != last:
                return (*[Step("select-right")] * (last - first), *self.steps)
            if state.token == last and first != last:
                return (*[Step("select-left")] * (last - first), *self.steps)
            return None
        if state.anchor == first:
            goal = last
        elif state.anchor == last:
            goal = first
        else:
            return None
        toward = "select-right" if goal > state.token else "select-left"
        return (*[Step(toward)] * abs(goal - state.token), *self.steps)


@dataclass
class Action:
    """One difference from the gold and the ways to fix it; `done` says whether a record has it fixed."""

    name: str
    position: int
    priority: int
    ways: list[Way]
    done: Callable[[Annotation], bool]

    @property
    def key(self) -> tuple[str, int]:
        return self.name, self.position


def _pieces(record: Annotation, start: int, end: int) -> list[tuple[int, int, str]]:
    return [(b.start, b.end, b.kind) for b in record.boilerplate if b.start < end and b.end > start]


def _resize_steps(page: Page, entity, target) -> list[Step] | None:
    """Span keys that move `entity`'s edges onto `target`'s tokens, or None without them."""
    model = page.model
    have_first, have_last = model.token_at(entity.start), model.token_at(max(entity.start, entity.end - 1))
    span = page.token_range(target.start, target.end)
    want_first, want_last = span[0], span[-1]
    steps: list[Step] = []
    if want_first < have_first:
        steps += [Step("entity-grow-start")] * (have_first - want_first)
    elif want_first > have_first:
        steps += [Step("entity-shrink-start")] * (want_first - have_first)
    if want_last > have_last:
        steps += [Step("entity-grow-end")] * (want_last - have_last)
    elif want_last < have_last:
        steps += [Step("entity-shrink-end")] * (have_last - want_last)
    if any(step.binding not in page.bindings for step in steps):
        return None
    return steps


def pending(page: Page, record: Annotation) -> list[Action]:
    """Every correction the record still needs, in text order; ones that must wait for a story
    start to be fixed first (they depend on where stories begin) are left out until it is."""
    model, gold = page.model, page.gold
    actions: list[Action] = []
    current_starts = set(record.story_starts)
    gold_starts = set(gold.story_starts)
    wrong_starts = sorted(current_starts ^ gold_starts)

    def structure_inside(start: int, end: int) -> bool:
        index = bisect_left(wrong_starts, start + 1)
        return index < len(wrong_starts) and wrong_starts[index] < end

    def has_start(start: int) -> Callable[[Annotation], bool]:
        return lambda done: start in done.story_starts

    def lacks_start(start: int) -> Callable[[Annotation], bool]:
        return lambda done: start not in done.story_starts

    story_key = (Step("story-start"),)
    for start in sorted(gold_starts - current_starts):
        targets = frozenset(t for boundary, _, found in page.sentences if boundary == start for t in found)
        actions.append(Action("add story start", start, 0, [Way(targets, story_key)], has_start(start)))
    for start in sorted(current_starts - gold_starts):
        targets = frozenset(t for boundary, sentence, found in page.sentences if boundary <= start <= sentence for t in found)
        actions.append(Action("remove story start", start, 0, [Way(targets, story_key)], lacks_start(start)))

    for story in gold.stories:
        if story.start and story.start not in current_starts or structure_inside(story.start, story.end):
            continue
        index = record.story_of(story.start)
        if record.stories[index].truncated != story.truncated:
            end = min(story.end, record.stories[index].end)
            targets = frozenset(page.token_range(story.start, end))

            def flagged(done: Annotation, start: int = story.start, flag: bool = story.truncated) -> bool:
                return done.stories[done.story_of(start)].truncated == flag

            actions.append(Action("truncated", story.start, 1, [Way(targets, (Step("truncated"),))], flagged))

    for paragraph in model.paragraphs:
        want = _pieces(gold, paragraph.start, paragraph.end)
        have = _pieces(record, paragraph.start, paragraph.end)
        if want == have or structure_inside(paragraph.start, paragraph.end):
            continue
        kinds = {kind for _, _, kind in want}
        if len(kinds) > 1:
            continue  # two kinds in one paragraph: no key marks that
        kind = kinds.pop() if kinds else None
        targets = frozenset(page.token_range(paragraph.start, paragraph.end))
        ways = []
        if not want:
            ways.append(Way(targets, (Step("boilerplate"),)))
        elif not have:
            ways += [Way(targets, (Step(binding, kind),)) for binding in ("boilerplate", "boilerplate-kind") if binding in page.bindings]
        else:
            ways += [Way(targets, (Step("boilerplate"), Step(binding, kind))) for binding in ("boilerplate", "boilerplate-kind") if binding in page.bindings]
            if "boilerplate-kind" in page.bindings and [(s, e) for s, e, _ in have] == [(s, e) for s, e, _ in want]:
                ways.append(Way(targets, (Step("boilerplate-kind", kind),)))

        def marked(done: Annotation, start: int = paragraph.start, end: int = paragraph.end, want=want) -> bool:
            return _pieces(done, start, end) == want

        actions.append(Action("boilerplate", paragraph.start, 2, ways, marked))

    have_entities = {(e.start, e.end, e.label) for e in record.entities}
    entity_tokens = frozenset(token for e in record.entities for token in page.token_range(e.start, e.end))
    gold_entities = {(e.start, e.end, e.label) for e in gold.entities}
    for entity in gold.entities:
        if (entity.start, entity.end, entity.label) in have_entities or structure_inside(entity.start, entity.end):
            continue
        binding = page.label_bindings.get(entity.label)
        span = page.token_range(entity.start, entity.end)
        if binding is None or not span:
            continue
        label = Step(binding)
        overlapping = [e for e in record.entities if e.start < entity.end and e.end > entity.start]
        ways = [Way(span=(span[0], span[-1]), steps=(label,))]
        if len(overlapping) == 1 and (overlapping[0].start, overlapping[0].end) == (entity.start, entity.end):
            name = "relabel entity"
            ways = [Way(frozenset(span), (label,))]
        elif not overlapping:
            name = "add entity"
            if len(span) == 1:
                ways.append(Way(frozenset(span), (label,)))
            if {"entity-shrink-start", "entity-shrink-end"} <= page.bindings:
                ways.append(Way(steps=(label,), cover=(span[0], span[-1]), blocked=entity_tokens))
        else:
            name = "re-span entity"
            if len(span) == 1:
                ways.append(Way(frozenset(span), (Step("remove-entity"), label)))
            if len(overlapping) == 1:
                other = overlapping[0]
                resize = _resize_steps(page, other, entity)
                if resize is not None:
                    relabel = [label] if other.label != entity.label else []
                    ways.append(Way(frozenset(page.token_range(other.start, other.end)), (*resize, *relabel)))
        target = (entity.start, entity.end, entity.label)
        actions.append(Action(name, entity.start, 3, ways, lambda done, target=target: target in {(e.start, e.end, e.label) for e in done.entities}))
    for entity in record.entities:
        if (entity.start, entity.end, entity.label) in gold_entities:
            continue
        if any(g.start < entity.end and g.end > entity.start for g in gold.entities):
            continue  # labelling the gold span over it replaces it
        targets = frozenset(page.token_range(entity.start, entity.end))

        def removed(done: Annotation, start: int = entity.start, end: int = entity.end) -> bool:
            return not any(e.start < end and e.end > start for e in done.entities)

        actions.append(Action("remove entity", entity.start, 3, [Way(targets, (Step("remove-entity"),))], removed))
    actions.sort(key=lambda action: (action.position, action.priority))
    return actions


def corrected_items(page: Page, start: Annotation) -> int:
    """How many corrections turn `start` into the gold: story starts added or removed, truncation
    flags, paragraphs whose boilerplate differs, entities added, relabelled, re-spanned or removed."""
    gold = page.gold
    items = len(set(start.story_starts) ^ set(gold.story_starts))
    items += sum(1 for story in gold.stories if start.stories[start.story_of(story.start)].truncated != story.truncated)
    items += sum(
        1 for paragraph in page.model.paragraphs
        if _pieces(start, paragraph.start, paragraph.end) != _pieces(gold, paragraph.start, paragraph.end)
    )
    have = {(e.start, e.end, e.label) for e in start.entities}
    items += sum(1 for e in gold.entities if (e.start, e.end, e.label) not in have)
    items += sum(
        1 for e in start.entities
        if not any(g.start < e.end and g.end > e.start for g in gold.entities)
    )
    return items


# ---------------------------------------------------------------- planning


@dataclass
class Planned:
    """Keys to press, each with the cursor and record expected after it."""

    action: Action
    steps: list[tuple[Step, Cursor, Annotation]]


@dataclass
class Planner:
    """Plans one snippet. `disabled`: navigation keys not to use (their model failed here);
    `stuck`: corrections with no keys found for the record as it is (the driver clears it after
    progress, since another correction may unblock one); `given_up`: corrections the screen
    twice did otherwise than planned."""

    page: Page
    disabled: set[str] = field(default_factory=set)
    stuck: set[tuple[str, int]] = field(default_factory=set)
    given_up: set[tuple[str, int]] = field(default_factory=set)
    max_depth: int = 400

    def moves(self) -> list[str]:
        return [binding for binding in NAVIGATION if binding in self.page.bindings and binding not in self.disabled]

    def route(self, record: Annotation, cursor: Cursor, ways: list[Way]) -> tuple[list[Step], tuple[Step, ...], Way] | None:
        """The fewest keys that end one of `ways`: a breadth-first search over the navigation
        keys, each state costed with the keys its way still needs there."""
        parents: dict[Cursor, tuple[Cursor, str] | None] = {cursor: None}
        # States told apart by token, selection and goal column only: the first way to reach
        # one wins whatever search it leaves behind (keeping each search apart multiplied the
        # states by every `*` taken, and made some plans take seconds).
        seen = {(cursor.token, cursor.anchor, cursor.goal_x)}
        frontier = [cursor]
        best: tuple[int, Cursor, tuple[Step, ...], Way] | None = None
        depth = 0
        moves = self.moves()
        while frontier and depth <= self.max_depth:
            for state in frontier:
                for way in ways:
                    rest = way.finish(state)
                    if rest is None:
                        continue
                    cost = depth + sum(key_cost(self.page, step) for step in rest)
                    if best is None or cost < best[0]:
                        best = (cost, state, rest, way)
            if best is not None and best[0] <= depth + 1:
                break
            following = []
            for state in frontier:
                for binding in moves:
                    try:
                        landed = NAVIGATION[binding](self.page, record, state)
                    except Exception:  # a model of a key that no longer fits the screen
                        self.disabled.add(binding)
                        continue
                    if landed is None:
                        continue
                    seen_key = (landed.token, landed.anchor, landed.goal_x)
                    if seen_key in seen:
                        continue
                    seen.add(seen_key)
                    parents[landed] = (state, binding)
                    following.append(landed)
            frontier = following
            depth += 1
        if best is None:
            return None
        path: list[Step] = []
        state = best[1]
        while parents[state] is not None:
            state, binding = parents[state]
            path.append(Step(binding))
        path.reverse()
        return path, best[2], best[3]

    def next_plan(self, record: Annotation, cursor: Cursor) -> Planned | None:
        """Keys for the earliest pending correction that can be made; None when none is left."""
        for action in pending(self.page, record):
            if action.key in self.stuck or action.key in self.given_up:
                continue
            planned = self._plan(action, record, cursor)
            if planned is not None:
                return planned
            self.stuck.add(action.key)
        return None

    def _plan(self, action: Action, record: Annotation, cursor: Cursor) -> Planned | None:
        ways = list(action.ways)
        while ways:
            found = self.route(record, cursor, ways)
            if found is None:
                return None
            path, rest, way = found
            steps: list[tuple[Step, Cursor, Annotation]] = []
            state, now = cursor, record
            for step in (*path, *rest):
                now, state = simulate(self.page, now, state, step)
                steps.append((step, state, now))
            if action.done(now):
                extra = self._label_all(now, state)
                if extra is not None:
                    steps.append(extra)
                return Planned(action, steps)
            # This way does not do it here (an edit refused): try the others.
            ways.remove(way)
        return None

    def _label_all(self, record: Annotation, cursor: Cursor) -> tuple[Step, Cursor, Annotation] | None:
        """`=` after a label, when labelling the other occurrences alike gains more than it costs
        (each gold entity it adds or fixes saves at least two keys, each wrong one costs two)."""
        if "label-all" not in self.page.bindings or cursor.anchor is not None:
            return None
        index = entity_index_at(record, self.page.model.tokens[cursor.token][0])
        if index is None:
            return None
        after, _ = simulate(self.page, record, cursor, Step("label-all"))
        gold = {(e.start, e.end, e.label) for e in self.page.gold.entities}
        before_set = {(e.start, e.end, e.label) for e in record.entities}
        after_set = {(e.start, e.end, e.label) for e in after.entities}
        gained = after_set - before_set
        lost = before_set - after_set
        net = len(gained & gold) + len(lost - gold) - len(gained - gold) - len(lost & gold)
        if net * 2 <= 1:
            return None
        return Step("label-all"), cursor, after


__all__ = [
    "Action",
    "Cursor",
    "NAVIGATION",
    "Page",
    "Planned",
    "Planner",
    "Step",
    "corrected_items",
    "pending",
    "same_marks",
    "simulate",
]
