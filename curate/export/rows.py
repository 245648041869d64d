"""Export rows from annotated snippets: which records, which split, story rows and snippet rows.

Pure functions over records and texts; every format module writes what these return.

A story row's text is the story without its boilerplate. A boilerplate range that takes a
whole line also takes the whitespace after it, so a dropped `Photo: AP` line leaves no blank
gap; the story text is then trimmed. Entities are mapped into the story text, and snapped to
the story text's own tokens, so IOB2 tags decode back to exactly the entities of the row.
"""

from __future__ import annotations

import hashlib
import mmap
from bisect import bisect_right
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import partial
from itertools import chain, repeat
from operator import attrgetter

import msgspec
import numpy as np
from pydantic import ValidationError

from curate.model import _LINE_BREAK, Annotation, CorpusConfig, GoldAnnotation, Snippet, annotation_problems
from curate.store import Corpus, QuickGold, SnippetLine, file_signature, quick_gold, quick_snippet
from curate.text import concatenated_ranges, joined_starts, line_arrays, line_spans, text_tokens, token_arrays

GOLD = "gold"


@dataclass(frozen=True)
class StoryRow:
    """One story, ready for every format: text without boilerplate, tokens and entities."""

    id: str
    snippet_id: str
    story: int
    text: str
    tokens: list[tuple[int, int]]
    entities: list[tuple[int, int, str]]
    truncated: bool
    entity_tokens: list[tuple[int, int]]
    """Per entity, its token range (first, last + 1)."""
    token_offsets: np.ndarray = field(init=False, compare=False, repr=False)
    """`tokens` again as an (n, 2) int32 array, what columnar writers read."""
    entity_offsets: np.ndarray = field(init=False, compare=False, repr=False)
    """Per entity (start, end, first token, token after) as an (m, 4) int32 array."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "token_offsets", token_array(self.tokens))
        object.__setattr__(self, "entity_offsets", entity_array(self.entities, self.entity_tokens))


@dataclass
class SourceReport:
    """What the reader of annotations left out, as messages for the user."""

    skipped: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- which records


def source_records(corpus: Corpus, source: str = GOLD, report: SourceReport | None = None) -> Iterator[tuple[Snippet, Annotation]]:
    """(snippet, record) pairs in corpus order: gold records, or an annotator's `done` records.

    A record that does not fit its snippet (changed text, unknown label) is left out and
    named in `report`, never exported half-right. Records are read one at a time (gold
    through :class:`GoldSource`), so no export holds every record at once.
    """
    if source == GOLD:
        if not corpus.layout.gold.exists():
            return
        gold = take_gold_source(corpus)
        if report is not None:
            report.skipped += [f"{source} record for {snippet_id!r}: no such snippet in the corpus" for snippet_id in gold.unknown]
        pairs = gold.pairs()
    else:
        journal = corpus.journal(source)
        pairs = (
            (position, read_snippet(corpus, position), record)
            for position in journal.positions_with_status("done").tolist()
            if (record := journal.record_at(position)) is not None and record.status == "done"
        )
    fits = _Fits(corpus.config)
    for _, snippet, record in pairs:
        problems = fits.problems(record, snippet.text)
        if problems:
            if report is not None:
                report.skipped.append(f"{source} record for {record.snippet_id!r}: {'; '.join(problems)}")
            continue
        yield snippet, record


class _Fits:
    """`annotation_problems(record, text, config)`, answered without building messages for a
    record that surely has none: its stories end where the text does, it carries no text hash
    to check, its labels and kinds are the corpus's and no entity holds a line break. Any
    other record gets `annotation_problems`' own answer."""

    def __init__(self, config: CorpusConfig) -> None:
        self.config = config
        self.labels = frozenset(config.label_names)
        self.kinds = frozenset(config.boilerplate_kinds)

    def problems(self, record: Annotation, text: str) -> list[str]:
        entities = record.entities
        if (
            record.text_length == len(text)
            and record.text_sha256 is None
            and self.labels.issuperset(map(_LABEL, entities))
            and self.kinds.issuperset(map(_KIND, record.boilerplate))
            and not any(map(_LINE_BREAK.search, repeat(text), map(_START, entities), map(_END, entities)))
        ):
            return []
        return annotation_problems(record, text, self.config)


def read_snippet(corpus: Corpus, position: int) -> Snippet | SnippetLine:
    """The snippet at `position`: read by msgspec (:func:`curate.store.quick_snippet`), or by
    `corpus.snippet` (which raises what it raises) for a line msgspec is not sure of."""
    return quick_snippet(corpus._line(position)) or corpus.snippet(position)


class _GoldHead(msgspec.Struct, gc=False):
    """What the first pass over gold.jsonl reads of a line (nothing is validated)."""

    snippet_id: str
    status: str | None = None


_GOLD_HEAD = msgspec.json.Decoder(_GoldHead)
_QUICK_GOLD = msgspec.json.Decoder(QuickGold).decode


def _line_digest(raw: bytes) -> bytes:
    """A digest of a gold line's bytes (what GoldSource.sure remembers of a checked line): SHA-1,
    the fastest of hashlib's here (about a twentieth of quick_gold's time on a 4 kB line)."""
    return hashlib.sha1(raw, usedforsecurity=False).digest()
_LEFT_OUT = frozenset(("skipped", "flagged"))
_BATCH = 1 << 16


class GoldSource:
    """Where each snippet's gold lines are in gold.jsonl, from one pass that reads only their
    snippet ids and statuses; each record is then validated once, when it is read.

    What is read equals :class:`curate.store.GoldStore`'s records: per snippet the last line
    that is a valid gold record (an earlier one when the last is damaged), and of those the
    ones not skipped or flagged, in corpus order.
    """

    def __init__(self, corpus: Corpus) -> None:
        self.corpus = corpus
        self.path = corpus.layout.gold
        self.signature = file_signature(self.path)
        positions, offsets, lengths, heads = [], [], [], []
        batch_ids: list[str] = []
        batch_offsets: list[int] = []
        self.unknown: list[str] = []

        def place() -> None:
            found = corpus.positions_of(batch_ids)
            self.unknown += [batch_ids[number] for number in np.flatnonzero(found < 0).tolist() if batch_ids[number]]
            positions.append(found)
            offsets.append(np.asarray(batch_offsets, dtype=np.int64))
            batch_ids.clear()
            batch_offsets.clear()

        offset = 0
        with self.path.open("rb") as handle:
            for line in handle:
                length = len(line)
                if line.strip():
                    try:
                        head = _GOLD_HEAD.decode(line)
                        snippet_id, status = head.snippet_id, head.status
                    except msgspec.MsgspecError:
                        snippet_id, status = "", None  # not a record: found out when validated
                    batch_ids.append(snippet_id)
                    batch_offsets.append(offset)
                    lengths.append(length)
                    heads.append(status in _LEFT_OUT)
                    if len(batch_ids) == _BATCH:
                        place()
                offset += length
        place()
        self.positions = np.concatenate(positions)
        self.offsets = np.concatenate(offsets)
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.left_out = np.asarray(heads, dtype=bool)
        self.sure: list[bytes | None] = [None] * len(self.offsets)
        """Per line, the digest of the bytes a read found `quick_gold` accepts there: a later read
        (the export's rows, after dedup read the same file through this source) decodes a line
        without checking it again only when its bytes are still those (gold.jsonl may have been
        rewritten or replaced between the reads, even keeping its size and times)."""
        # Lines grouped by snippet in corpus order, file order inside a group.
        self.order = np.lexsort((np.arange(len(self.positions)), self.positions))
        self.order = self.order[self.positions[self.order] >= 0]

    def total(self) -> int:
        """Snippets whose last gold line says it is not skipped or flagged (a progress bar's total)."""
        ordered = self.positions[self.order]
        last = np.append(ordered[1:] != ordered[:-1], True) if len(ordered) else np.zeros(0, dtype=bool)
        return int((~self.left_out[self.order[last]]).sum())

    def records(self) -> Iterator[tuple[int, GoldAnnotation]]:
        """(position, record) of each snippet's gold record that is not skipped or flagged."""
        for position, _, record in self._read(lambda position: self.corpus.snippet_id(position), False):
            yield position, record

    def pairs(self, snippet_at=None) -> Iterator[tuple[int, Snippet, GoldAnnotation]]:
        """(position, snippet, record) as :meth:`records` gives them, each snippet read once
        (its id checked on the snippet itself rather than by a read of its own). `snippet_at`
        reads the snippet at a position (default :func:`read_snippet`)."""
        return self._read(snippet_at or partial(read_snippet, self.corpus), True)

    def _read(self, snippet_at, whole: bool) -> Iterator[tuple[int, Snippet | None, GoldAnnotation]]:
        """(position, snippet or None, record): `snippet_at(position)` gives the snippet
        (`whole`) or only its id, to tell an id not in the corpus whose 64-bit hash is the
        snippet's from the snippet's own; it is asked once per snippet, after a line validates."""
        ordered = self.positions[self.order]
        bounds = np.flatnonzero(np.append(True, ordered[1:] != ordered[:-1])).tolist() + [len(ordered)]
        sure = self.sure
        with self.path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) if self.offsets.size else nullcontext(b"") as data:
            for first, after in zip(bounds, bounds[1:]):
                position = int(ordered[first])
                snippet = snippet_id = None
                for line in reversed(self.order[first:after].tolist()):
                    start = int(self.offsets[line])
                    raw = data[start : start + int(self.lengths[line])]
                    digest = _line_digest(raw)
                    if sure[line] == digest:  # these bytes were checked by an earlier read: decoded only
                        record = _QUICK_GOLD(raw)
                    else:
                        record = quick_gold(raw)
                        sure[line] = None if record is None else digest
                    if record is None:
                        try:
                            record = GoldAnnotation.model_validate_json(raw)
                        except ValidationError:
                            continue
                    if snippet_id is None:
                        snippet = snippet_at(position)
                        snippet_id = snippet.id if whole else snippet
                    if record.snippet_id != snippet_id:
                        continue  # an id not in the corpus whose 64-bit hash is this snippet's
                    if record.status not in _LEFT_OUT:
                        yield position, snippet if whole else None, record
                    break


_gold_source: GoldSource | None = None


def take_gold_source(corpus: Corpus, keep: bool = False) -> GoldSource:
    """The :class:`GoldSource` of `corpus`, read once per export: one kept (`keep`, for the
    progress bar's total) is taken by the next call if gold.jsonl has not changed since."""
    global _gold_source
    kept, _gold_source = _kept_gold_source(corpus), None
    if kept is None:
        kept = GoldSource(corpus)
    if keep:
        _gold_source = kept
    return kept


def gold_source(corpus: Corpus) -> GoldSource:
    """The kept :class:`GoldSource` of `corpus` (left kept, for the export that follows), else a
    new one that is not kept: dedup reads gold through this, in an export or not."""
    return _kept_gold_source(corpus) or GoldSource(corpus)


def _kept_gold_source(corpus: Corpus) -> GoldSource | None:
    kept = _gold_source
    if kept is None or kept.corpus is not corpus or kept.signature != file_signature(corpus.layout.gold):
        return None
    return kept


# ---------------------------------------------------------------- splits


def parse_splits(value: str | None, config: CorpusConfig) -> dict[str, float]:
    """Split fractions from `--splits 0.8,0.1,0.1` (named train, validation, test) or corpus.toml."""
    if not value:
        return dict(config.splits) or {"train": 1.0}
    try:
        fractions = [float(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"--splits {value!r}: give fractions like 0.8,0.1,0.1") from None
    names = {1: ["train"], 2: ["train", "test"], 3: ["train", "validation", "test"]}.get(len(fractions))
    if names is None:
        raise ValueError(f"--splits {value!r}: give one, two or three fractions")
    if any(fraction < 0 for fraction in fractions) or abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"--splits {value!r}: fractions must be non-negative and add up to 1")
    return dict(zip(names, fractions))


class SplitAssigner:
    """The split of a snippet, from a hash of its id (and the seed), so it never depends on order."""

    def __init__(self, splits: dict[str, float], seed: int = 0) -> None:
        self.names = list(splits)
        self.bounds: list[float] = []
        total = 0.0
        for fraction in splits.values():
            total += fraction
            self.bounds.append(total)
        self.bounds[-1] = 1.0 + 1e-9
        self.salt = f"{seed}:".encode()

    def __call__(self, snippet_id: str) -> str:
        digest = hashlib.blake2b(self.salt + snippet_id.encode("utf-8"), digest_size=8).digest()
        point = int.from_bytes(digest, "little") / 2**64
        return self.names[min(bisect_right(self.bounds, point), len(self.names) - 1)]


# ---------------------------------------------------------------- stories


def _removed_ranges(text: str, start: int, end: int, boilerplate: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Boilerplate ranges inside the story, each whole-line range grown over the whitespace after it."""
    removed = []
    for bp_start, bp_end in boilerplate:
        bp_start, bp_end = max(bp_start, start), min(bp_end, end)
        if bp_end <= bp_start:
            continue
        line_begin = text.rfind("\n", start, bp_start) + 1 or start
        line_begin = max(line_begin, start)
        if not text[line_begin:bp_start].strip():
            while bp_end < end and text[bp_end].isspace():
                bp_end += 1
        if removed and bp_start <= removed[-1][1]:
            removed[-1] = (removed[-1][0], max(removed[-1][1], bp_end))
        else:
            removed.append((bp_start, bp_end))
    return removed


def _kept_segments(text: str, start: int, end: int, boilerplate: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Pieces of `text[start:end]` left after boilerplate, trimmed of outer whitespace."""
    segments = []
    position = start
    for cut_start, cut_end in _removed_ranges(text, start, end, boilerplate):
        if cut_start > position:
            segments.append((position, cut_start))
        position = max(position, cut_end)
    if position < end:
        segments.append((position, end))
    while segments:
        first_start, first_end = segments[0]
        while first_start < first_end and text[first_start].isspace():
            first_start += 1
        if first_start < first_end:
            segments[0] = (first_start, first_end)
            break
        segments.pop(0)
    while segments:
        last_start, last_end = segments[-1]
        while last_end > last_start and text[last_end - 1].isspace():
            last_end -= 1
        if last_end > last_start:
            segments[-1] = (last_start, last_end)
            break
        segments.pop()
    return segments


def story_rows(snippet: Snippet, record: Annotation) -> list[StoryRow]:
    """Every story of `record` that keeps some text once its boilerplate is gone."""
    return story_batch([(snippet, record)]).rows()[0]


def story_rows_many(pairs: list[tuple[Snippet, Annotation]]) -> list[list[StoryRow]]:
    """:func:`story_rows` of each (snippet, record), made together (:func:`story_batch`)."""
    return story_batch(pairs).rows()


@dataclass
class StoryBatch:
    """The story rows of a batch of (snippet, record) pairs as columns, story after story.

    Per story: `ids`, `snippet_ids`, `numbers` (its index among the record's stories),
    `texts`, `truncated`; its tokens are the rows `token_bounds[i]:token_bounds[i + 1]` of
    `tokens` ((start, end) in its text) and its entities the rows of `entities` ((start, end,
    first token, token after)) and `labels` between its `entity_bounds`. The stories of pair
    p are those between `story_bounds[p]` and `story_bounds[p + 1]`. :meth:`rows` gives the
    same as :class:`StoryRow` objects.
    """

    pairs: list[tuple[Snippet, Annotation]]
    story_bounds: np.ndarray
    ids: list[str]
    snippet_ids: list[str]
    numbers: list[int]
    texts: list[str]
    truncated: list[bool]
    token_bounds: np.ndarray
    tokens: np.ndarray
    entity_bounds: np.ndarray
    entities: np.ndarray
    labels: list[str]

    def __len__(self) -> int:
        return len(self.texts)

    def rows(self) -> list[list[StoryRow]]:
        """The stories of each pair as :class:`StoryRow` objects."""
        token_bounds, entity_bounds = self.token_bounds.tolist(), self.entity_bounds.tolist()
        tokens = list(zip(*self.tokens.T.tolist())) if len(self.tokens) else []
        entities = self.entities.tolist()
        result = []
        bounds = self.story_bounds.tolist()
        for first_story, after_story in zip(bounds, bounds[1:]):
            own = []
            for story in range(first_story, after_story):
                first, after = entity_bounds[story], entity_bounds[story + 1]
                own.append(
                    StoryRow(
                        self.ids[story], self.snippet_ids[story], self.numbers[story], self.texts[story],
                        tokens[token_bounds[story] : token_bounds[story + 1]],
                        [(start, end, label) for (start, end, _, _), label in zip(entities[first:after], self.labels[first:after])],
                        self.truncated[story],
                        [(first_token, after_token) for _, _, first_token, after_token in entities[first:after]],
                    )
                )
            result.append(own)
        return result


def story_batch(pairs: list[tuple[Snippet, Annotation]]) -> StoryBatch:
    """The story rows of every (snippet, record) as one :class:`StoryBatch`.

    A story's text is cut in Python (boilerplate out, trimmed); its tokens are cut for the
    whole batch at once (:func:`curate.text.token_arrays`), and entities are mapped into the
    story texts and snapped to their tokens with numpy over the batch (see :func:`_map_entities`).
    """
    ids: list[str] = []
    snippet_ids: list[str] = []
    numbers: list[int] = []
    texts: list[str] = []
    truncated: list[bool] = []
    story_bounds = [0]
    segment_story: list[int] = []  # per kept segment: its story, start and end in the snippet, offset in the story text
    segment_starts: list[int] = []
    segment_ends: list[int] = []
    segment_offsets: list[int] = []
    # Every entity (offsets in its snippet, label) and, per story of the records, where it ends
    # and which kept story it is (-1: none): entities are given to stories with numpy below.
    all_starts: list[int] = []
    all_ends: list[int] = []
    all_labels: list[str] = []
    entity_counts: list[int] = []
    story_ends: list[int] = []
    story_numbers: list[int] = []
    story_counts: list[int] = []
    for snippet, record in pairs:
        text = snippet.text
        boilerplate = [(item.start, item.end) for item in record.boilerplate]
        entities = record.entities
        all_starts += map(_START, entities)
        all_ends += map(_END, entities)
        all_labels += map(_LABEL, entities)
        entity_counts.append(len(entities))
        story_counts.append(len(record.stories))
        for index, story in enumerate(record.stories):
            start, end = story.start, story.end
            story_ends.append(end)
            if boilerplate and any(cut_start < end and cut_end > start for cut_start, cut_end in boilerplate):
                segments = _kept_segments(text, start, end, boilerplate)
            else:
                # _kept_segments without boilerplate in the story: the story trimmed (str.strip trims what str.isspace finds).
                left = text[start:end].lstrip()
                kept = left.rstrip()
                segments = [(end - len(left), end - len(left) + len(kept))] if kept else []
            if not segments:
                story_numbers.append(-1)
                continue
            number = len(texts)
            story_numbers.append(number)
            offset = 0
            for seg_start, seg_end in segments:
                segment_story.append(number)
                segment_starts.append(seg_start)
                segment_ends.append(seg_end)
                segment_offsets.append(offset)
                offset += seg_end - seg_start
            ids.append(f"{snippet.id}#{index}")
            snippet_ids.append(snippet.id)
            numbers.append(index)
            texts.append(text[segments[0][0] : segments[0][1]] if len(segments) == 1 else "".join(text[a:b] for a, b in segments))
            truncated.append(story.truncated)
        story_bounds.append(len(texts))
    entity_story, entity_starts, entity_ends, owned = _entity_stories(all_starts, all_ends, entity_counts, story_ends, story_numbers, story_counts)
    labels = [all_labels[number] for number in owned.tolist()] if len(owned) != len(all_labels) else all_labels
    offsets, token_bounds = token_arrays(texts)
    starts_in_joined = joined_starts(texts)
    mapped, kept = _map_entities(
        entity_story, entity_starts, entity_ends,
        (np.asarray(segment_story, dtype=np.int64), np.asarray(segment_starts, dtype=np.int64), np.asarray(segment_ends, dtype=np.int64), np.asarray(segment_offsets, dtype=np.int64)),
        offsets, token_bounds, starts_in_joined,
    )
    entity_bounds = np.searchsorted(entity_story[kept], np.arange(len(texts) + 1))
    local = (offsets - np.repeat(starts_in_joined, np.diff(token_bounds))[:, None]).astype(np.int32) if len(offsets) else np.zeros((0, 2), dtype=np.int32)
    return StoryBatch(
        pairs, np.asarray(story_bounds, dtype=np.int64), ids, snippet_ids, numbers, texts, truncated,
        token_bounds, local, entity_bounds, mapped, [labels[number] for number in kept.tolist()],
    )


_START, _END, _LABEL, _KIND = attrgetter("start"), attrgetter("end"), attrgetter("label"), attrgetter("kind")


def _entity_stories(
    starts: list[int], ends: list[int], entity_counts: list[int], story_ends: list[int], story_rows: list[int], story_counts: list[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per entity of a kept story, in order: that story's row, the entity's start and end in its
    snippet, and its index among all the entities. An entity belongs to its record's first story
    ending after its start (entities are ordered, each inside one story)."""
    if not starts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, empty
    entity_starts = np.asarray(starts, dtype=np.int64)
    # Records laid apart (each moved past the one before) make one search find every entity's story.
    ends_array = np.asarray(story_ends, dtype=np.int64)
    record_story_first = np.zeros(len(story_counts), dtype=np.int64)
    np.cumsum(story_counts[:-1], out=record_story_first[1:])
    lengths = ends_array[record_story_first + np.asarray(story_counts, dtype=np.int64) - 1] if len(ends_array) else np.zeros(0, dtype=np.int64)
    base = np.zeros(len(story_counts), dtype=np.int64)
    np.cumsum(lengths[:-1] + 1, out=base[1:])
    story_base = np.repeat(base, story_counts)
    entity_base = np.repeat(base, entity_counts)
    story = np.searchsorted(ends_array + story_base, entity_starts + entity_base, side="right")
    # An entity past its record's last story (never in a checked record) belongs to none.
    inside = story < np.repeat(record_story_first + np.asarray(story_counts, dtype=np.int64), entity_counts)
    rows = np.where(inside, np.asarray(story_rows, dtype=np.int64)[np.minimum(story, len(story_rows) - 1)], -1)
    owned = np.flatnonzero(rows >= 0)
    return rows[owned], entity_starts[owned], np.asarray(ends, dtype=np.int64)[owned], owned


def story_tokens(text: str) -> list[tuple[int, int]]:
    """The tokens of a text, exactly as `TextModel(text).tokens` cuts them (without its sentences)."""
    return text_tokens(text)


def token_array(tokens: list[tuple[int, int]]) -> np.ndarray:
    """Token offsets as an (n, 2) int32 array."""
    return np.fromiter(chain.from_iterable(tokens), dtype=np.int32, count=2 * len(tokens)).reshape(-1, 2)


_NO_ENTITIES = np.zeros((0, 4), dtype=np.int32)
_NO_ENTITIES.flags.writeable = False


def entity_array(entities: list[tuple[int, int, str]], token_ranges: list[tuple[int, int]]) -> np.ndarray:
    """Per entity (start, end, first token, token after) as an (m, 4) int32 array."""
    if not entities:
        return _NO_ENTITIES
    flat = []
    for (start, end, _), (first, after) in zip(entities, token_ranges):
        flat += (start, end, first, after)
    return np.array(flat, dtype=np.int32).reshape(-1, 4)


def _map_entities(
    story: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    segments: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    tokens: np.ndarray,
    token_bounds: np.ndarray,
    joined_starts: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Entities (of `story`, at `starts`/`ends` in their snippet) as offsets into their story's
    text, clipped to its kept segments and snapped to its tokens: per entity kept, (start,
    end, first token, token after) in its story, and the indexes of the entities kept.

    An entity is clipped to the segment it overlaps most (the first of equals) and left out
    when it lies wholly in boilerplate or covers no token; it takes the tokens it touches. An
    entity whose first token falls before the end of the one kept before it (a clipped entity
    run into its neighbour) is left out: the first one keeps the tokens. `tokens` are the
    stories' tokens in the joined story texts (`joined_starts`), rows `token_bounds`.
    """
    if not len(story):
        return np.zeros((0, 4), dtype=np.int32), np.zeros(0, dtype=np.int64)
    segment_story, segment_starts, segment_ends, segment_offsets = segments
    first_segment = np.searchsorted(segment_story, story)
    segment_count = np.searchsorted(segment_story, story, side="right") - first_segment
    best_start = np.zeros(len(story), dtype=np.int64)
    best_end = np.zeros(len(story), dtype=np.int64)
    best_length = np.zeros(len(story), dtype=np.int64)
    for step in range(int(segment_count.max())):
        present = step < segment_count
        segment = np.where(present, first_segment + step, 0)
        clip_start = np.maximum(starts, segment_starts[segment])
        clip_end = np.minimum(ends, segment_ends[segment])
        better = present & (clip_end - clip_start > best_length)
        shift = segment_offsets[segment] - segment_starts[segment]
        best_start = np.where(better, clip_start + shift, best_start)
        best_end = np.where(better, clip_end + shift, best_end)
        best_length = np.where(better, clip_end - clip_start, best_length)
    base = joined_starts[story]
    low, high = token_bounds[story], token_bounds[story + 1]
    token_starts, token_ends = tokens[:, 0], tokens[:, 1]
    first = np.maximum(np.searchsorted(token_starts, best_start + base, side="right") - 1, low)
    inside = first < high
    first += inside & (token_ends[np.minimum(first, len(tokens) - 1)] <= best_start + base) if len(tokens) else 0
    last = np.searchsorted(token_starts, best_end + base, side="left") - 1
    kept = np.flatnonzero((best_length > 0) & (first <= last))
    first, last, kept_story = first[kept], last[kept], story[kept]
    # A kept entity whose first token starts before the previous kept one (same story) ends.
    clash = np.flatnonzero((kept_story[1:] == kept_story[:-1]) & (token_starts[first[1:]] < token_ends[last[:-1]])) if len(kept) > 1 else []
    if len(clash):
        keep = np.ones(len(kept), dtype=bool)
        previous = -1
        for number in range(len(kept)):
            if previous >= 0 and kept_story[previous] == kept_story[number] and token_starts[first[number]] < token_ends[last[previous]]:
                keep[number] = False
                continue
            previous = number
        kept, first, last, kept_story = kept[keep], first[keep], last[keep], kept_story[keep]
    low, base = low[kept], base[kept]
    mapped = np.stack((token_starts[first] - base, token_ends[last] - base, first - low, last + 1 - low), axis=1).astype(np.int32)
    return mapped, kept


# ---------------------------------------------------------------- IOB2


def iob2_names(labels: list[str]) -> list[str]:
    """`O`, then `B-X`, `I-X` for every label X in corpus order."""
    names = ["O"]
    for label in labels:
        names += [f"B-{label}", f"I-{label}"]
    return names


def iob2_tags(tokens: list[tuple[int, int]], entities: list[tuple[int, int, str]], label_ids: dict[str, int]) -> list[int]:
    """Tag ids per token (O=0, B-X=2i+1, I-X=2i+2) for token-aligned entities."""
    tags = [0] * len(tokens)
    if not entities:
        return tags
    token_starts = [start for start, _ in tokens]
    for start, end, label in entities:
        index = bisect_right(token_starts, start) - 1
        begin = 2 * label_ids[label] + 1
        tags[index] = begin
        index += 1
        while index < len(tokens) and tokens[index][1] <= end:
            tags[index] = begin + 1
            index += 1
    return tags


def entities_from_iob2(tags: list[str], tokens: list[tuple[int, int]]) -> list[tuple[int, int, str]]:
    """Spans from IOB tag names (IOB2, IOB1, BIOES and BILOU read alike), as character offsets."""
    spans: list[tuple[int, int, str]] = []
    current: list | None = None
    for tag, (start, end) in zip(tags, tokens):
        prefix, _, label = tag.partition("-")
        if tag == "O" or not label:
            current = None
            continue
        continues = prefix in ("I", "E", "L") and current is not None and current[2] == label
        if continues:
            current[1] = end
        else:
            current = [start, end, label]
            spans.append(current)
        if prefix in ("E", "L", "S", "U"):
            current = None
    return [tuple(span) for span in spans]


# ---------------------------------------------------------------- snippets


def paragraph_labels(text: str, record: Annotation) -> list[dict]:
    """Per non-blank line: offsets, its story, whether a story starts there, its boilerplate kind.

    `story_start` is 1 when a story begins at the line (the first line always begins one);
    `boilerplate` is the kind of the boilerplate covering more than half of the line, or `none`.
    Only line offsets are needed (:func:`curate.text.line_spans`), not the sentences a
    `TextModel`'s paragraphs carry.
    """
    story_starts = {story.start for story in record.stories}
    story_ends = [story.end for story in record.stories]
    last_story = len(story_ends) - 1
    spans = line_spans(text)
    kinds = _line_kinds([(start, end) for _, start, end in spans], [(item.start, item.end, item.kind) for item in record.boilerplate])
    paragraphs = []
    for number, ((line_start, start, end), kind) in enumerate(zip(spans, kinds)):
        starts_story = number == 0 or line_start in story_starts or start in story_starts
        story = bisect_right(story_ends, start)
        paragraphs.append(
            {
                "start": start,
                "end": end,
                "story": story if story <= last_story else last_story,
                "story_start": int(starts_story),
                "boilerplate": kind,
            }
        )
    return paragraphs


@dataclass
class ParagraphColumns:
    """:func:`paragraph_labels` of many snippets as columns, line after line: the lines of
    snippet p are rows `bounds[p]:bounds[p + 1]`."""

    bounds: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    stories: np.ndarray
    story_starts: np.ndarray
    kinds: list[str]


def paragraph_columns(pairs: list[tuple[Snippet, Annotation]]) -> ParagraphColumns:
    """:func:`paragraph_labels` of every (snippet, record), worked out with numpy over all the
    lines at once (offsets moved by where each text would begin if the texts were laid end to end)."""
    texts = [snippet.text for snippet, _ in pairs]
    lines, bounds = line_arrays(texts)
    bases = joined_starts(texts)
    story_begins: list[int] = []
    story_ends: list[int] = []
    story_counts: list[int] = []
    covering: list[tuple[int, list]] = []  # (snippet, its boilerplate) where there is some
    for number, (_, record) in enumerate(pairs):
        base = int(bases[number])
        for story in record.stories:
            story_begins.append(story.start + base)
            story_ends.append(story.end + base)
        story_counts.append(len(record.stories))
        if record.boilerplate:
            covering.append((number, record.boilerplate))
    counts = np.diff(bounds)
    owner = np.repeat(np.arange(len(pairs)), counts)
    shift = bases[owner]
    start_array, end_array = lines[:, 1], lines[:, 2]
    begins = np.asarray(story_begins, dtype=np.int64)
    first_line = np.zeros(len(lines), dtype=bool)
    first_line[bounds[:-1][counts > 0]] = True
    story_start = first_line | np.isin(lines[:, 0], begins) | np.isin(start_array, begins)
    story_first = np.zeros(len(pairs) + 1, dtype=np.int64)
    np.cumsum(story_counts, out=story_first[1:])
    story = np.searchsorted(np.asarray(story_ends, dtype=np.int64), start_array, side="right") - story_first[owner]
    story = np.minimum(story, np.asarray(story_counts, dtype=np.int64)[owner] - 1)
    local_starts, local_ends = start_array - shift, end_array - shift
    kinds = ["none"] * len(lines)
    if covering:
        items = [(item.start + int(bases[number]), item.end + int(bases[number]), item.kind) for number, boilerplate in covering for item in boilerplate]
        item_starts = np.fromiter((item[0] for item in items), dtype=np.int64, count=len(items))
        item_ends = np.fromiter((item[1] for item in items), dtype=np.int64, count=len(items))
        # The lines each item overlaps (texts lie apart in these offsets, so only its own).
        low = np.searchsorted(end_array, item_starts, side="right")
        high = np.searchsorted(start_array, item_ends, side="left")
        count = np.maximum(high - low, 0)
        line = concatenated_ranges(low, count)
        item = np.repeat(np.arange(len(items)), count)
        overlap = np.minimum(item_ends[item], end_array[line]) - np.maximum(item_starts[item], start_array[line])
        line, item, overlap = line[overlap > 0], item[overlap > 0], overlap[overlap > 0]
        order = np.argsort(line, kind="stable")
        line, item, overlap = line[order], item[order], overlap[order]
        shared = np.zeros(len(lines) + 1, dtype=bool)
        shared[line[1:][line[1:] == line[:-1]]] = True
        alone = ~shared[line]
        for number, which, covered in zip(line[alone].tolist(), item[alone].tolist(), overlap[alone].tolist()):
            if 2 * covered > int(end_array[number] - start_array[number]):
                kinds[number] = items[which][2]
        for number in np.flatnonzero(shared[:-1]).tolist():  # lines under more than one item
            own = [(items[which][0], items[which][1], items[which][2]) for which in item[line == number].tolist()]
            kinds[number] = _line_kinds([(int(start_array[number]), int(end_array[number]))], own)[0]
    return ParagraphColumns(bounds, local_starts, local_ends, story, story_start, kinds)


def _line_kinds(lines: list[tuple[int, int]], boilerplate: list[tuple[int, int, str]]) -> list[str]:
    """Per line (start, end): the kind of the boilerplate covering more than half of it, or `none`."""
    if not boilerplate:
        return ["none"] * len(lines)
    result = []
    for start, end in lines:
        kind = "none"
        covered: dict[str, int] = {}
        for item_start, item_end, item_kind in boilerplate:
            overlap = min(item_end, end) - max(item_start, start)
            if overlap > 0:
                covered[item_kind] = covered.get(item_kind, 0) + overlap
        if covered:
            best = max(covered, key=covered.get)
            if 2 * covered[best] > end - start:
                kind = best
        result.append(kind)
    return result


def snippet_row(snippet: Snippet, record: Annotation) -> dict:
    """The whole snippet with its stories, boilerplate, entities and per-paragraph labels."""
    text = snippet.text
    return {
        "id": snippet.id,
        "text": text,
        "stories": [{"start": item.start, "end": item.end, "truncated": item.truncated} for item in record.stories],
        "boilerplate": [{"start": item.start, "end": item.end, "kind": item.kind} for item in record.boilerplate],
        "entities": [
            {"start": item.start, "end": item.end, "label": item.label, "text": text[item.start : item.end]}
            for item in record.entities
        ],
        "paragraphs": paragraph_labels(text, record),
    }


__all__ = [
    "GOLD",
    "ParagraphColumns",
    "StoryBatch",
    "paragraph_columns",
    "story_batch",
    "SplitAssigner",
    "SourceReport",
    "StoryRow",
    "entities_from_iob2",
    "iob2_names",
    "iob2_tags",
    "paragraph_labels",
    "parse_splits",
    "snippet_row",
    "source_records",
    "story_rows",
    "story_rows_many",
    "entity_array",
    "story_tokens",
    "token_array",
]
