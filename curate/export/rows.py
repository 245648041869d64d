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
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from itertools import chain

import msgspec
import numpy as np
from pydantic import ValidationError

from curate.model import Annotation, CorpusConfig, GoldAnnotation, Snippet, annotation_problems
from curate.store import Corpus, file_signature
from curate.text import line_spans, text_tokens, text_tokens_many

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
    through :class:`GoldLines`), so no export holds every record at once.
    """
    if source == GOLD:
        if not corpus.layout.gold.exists():
            return
        gold = take_gold_lines(corpus)
        if report is not None:
            report.skipped += [f"{source} record for {snippet_id!r}: no such snippet in the corpus" for snippet_id in gold.unknown]
        pairs = gold.records()
    else:
        journal = corpus.journal(source)
        pairs = (
            (position, record)
            for position in journal.positions_with_status("done").tolist()
            if (record := journal.record_at(position)) is not None and record.status == "done"
        )
    for position, record in pairs:
        snippet = corpus.snippet(position)
        problems = annotation_problems(record, snippet.text, corpus.config)
        if problems:
            if report is not None:
                report.skipped.append(f"{source} record for {record.snippet_id!r}: {'; '.join(problems)}")
            continue
        yield snippet, record


class _GoldHead(msgspec.Struct, gc=False):
    """What the first pass over gold.jsonl reads of a line (nothing is validated)."""

    snippet_id: str
    status: str | None = None


_GOLD_HEAD = msgspec.json.Decoder(_GoldHead)
_LEFT_OUT = frozenset(("skipped", "flagged"))
_BATCH = 1 << 16


class GoldLines:
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
        ordered = self.positions[self.order]
        bounds = np.flatnonzero(np.append(True, ordered[1:] != ordered[:-1])).tolist() + [len(ordered)]
        with self.path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) if self.offsets.size else nullcontext(b"") as data:
            for first, after in zip(bounds, bounds[1:]):
                for line in reversed(self.order[first:after].tolist()):
                    start = int(self.offsets[line])
                    try:
                        record = GoldAnnotation.model_validate_json(data[start : start + int(self.lengths[line])])
                    except ValidationError:
                        continue
                    position = int(ordered[first])
                    if record.snippet_id != self.corpus.snippet_id(position):
                        continue  # an id not in the corpus whose 64-bit hash is this snippet's
                    if record.status not in _LEFT_OUT:
                        yield position, record
                    break


_gold_lines: GoldLines | None = None


def take_gold_lines(corpus: Corpus, keep: bool = False) -> GoldLines:
    """The :class:`GoldLines` of `corpus`, read once per export: one kept (`keep`, for the
    progress bar's total) is taken by the next call if gold.jsonl has not changed since."""
    global _gold_lines
    kept, _gold_lines = _gold_lines, None
    if kept is None or kept.corpus is not corpus or kept.signature != file_signature(corpus.layout.gold):
        kept = GoldLines(corpus)
    if keep:
        _gold_lines = kept
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
    return story_rows_many([(snippet, record)])[0]


def story_rows_many(pairs: list[tuple[Snippet, Annotation]]) -> list[list[StoryRow]]:
    """:func:`story_rows` of each (snippet, record), the stories' tokens cut in one batch
    (:func:`curate.text.text_tokens_many`)."""
    kept = []  # per pair: (index, segments, story text, entities, truncated) of each story kept
    for snippet, record in pairs:
        text = snippet.text
        boilerplate = [(item.start, item.end) for item in record.boilerplate]
        entities = [(item.start, item.end, item.label) for item in record.entities]
        stories = []
        entity_index = 0
        for index, story in enumerate(record.stories):
            segments = _kept_segments(text, story.start, story.end, boilerplate)
            story_entities = []
            while entity_index < len(entities) and entities[entity_index][0] < story.end:
                story_entities.append(entities[entity_index])
                entity_index += 1
            if not segments:
                continue
            story_text = "".join(text[seg_start:seg_end] for seg_start, seg_end in segments)
            stories.append((index, segments, story_text, story_entities, story.truncated))
        kept.append(stories)
    tokens_of = iter(text_tokens_many([story[2] for stories in kept for story in stories]))
    rows = []
    for (snippet, _), stories in zip(pairs, kept):
        own = []
        for index, segments, story_text, story_entities, truncated in stories:
            tokens = next(tokens_of)
            mapped, token_ranges = _map_entities(story_entities, segments, tokens)
            own.append(StoryRow(f"{snippet.id}#{index}", snippet.id, index, story_text, tokens, mapped, truncated, token_ranges))
        rows.append(own)
    return rows


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
    entities: list[tuple[int, int, str]], segments: list[tuple[int, int]], tokens: list[tuple[int, int]]
) -> tuple[list[tuple[int, int, str]], list[tuple[int, int]]]:
    """Entities as offsets into the story text (clipped to kept text, snapped to its tokens),
    and each one's token range `(first, last + 1)`."""
    if not entities:
        return [], []
    segment_offsets = []
    offset = 0
    for seg_start, seg_end in segments:
        segment_offsets.append(offset)
        offset += seg_end - seg_start
    token_starts = [token_start for token_start, _ in tokens]
    mapped: list[tuple[int, int, str]] = []
    token_ranges: list[tuple[int, int]] = []
    for start, end, label in entities:
        best: tuple[int, int] | None = None
        for (seg_start, seg_end), seg_offset in zip(segments, segment_offsets):
            clip_start, clip_end = max(start, seg_start), min(end, seg_end)
            if clip_end > clip_start and (best is None or clip_end - clip_start > best[1] - best[0]):
                best = (clip_start - seg_start + seg_offset, clip_end - seg_start + seg_offset)
        if best is None:
            continue  # wholly inside boilerplate
        first = max(0, bisect_right(token_starts, best[0]) - 1)
        if first < len(tokens) and tokens[first][1] <= best[0]:
            first += 1  # the token before the entity ends before it
        last = bisect_left(token_starts, best[1]) - 1
        if first > last:
            continue
        if mapped and tokens[first][0] < mapped[-1][1]:
            continue  # a clipped entity ran into its neighbour; the first one keeps the tokens
        mapped.append((tokens[first][0], tokens[last][1], label))
        token_ranges.append((first, last + 1))
    return mapped, token_ranges


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
    boilerplate = [(item.start, item.end, item.kind) for item in record.boilerplate]
    paragraphs = []
    for number, (line_start, start, end) in enumerate(line_spans(text)):
        starts_story = number == 0 or line_start in story_starts or start in story_starts
        kind = "none"
        if boilerplate:
            covered: dict[str, int] = {}
            for item_start, item_end, item_kind in boilerplate:
                overlap = min(item_end, end) - max(item_start, start)
                if overlap > 0:
                    covered[item_kind] = covered.get(item_kind, 0) + overlap
            if covered:
                best = max(covered, key=covered.get)
                if 2 * covered[best] > end - start:
                    kind = best
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
