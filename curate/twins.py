"""Annotate a wire story once: a queued snippet's near twin that is already annotated, and its
marks copied onto this snippet through a word alignment of the two texts (issue 18, item 3).

`align` lines up the tokens of two texts (`difflib.SequenceMatcher` over case-folded token
strings: the project's tokens, so copied entities land on token edges). `copy_twin` is pure:
this snippet's record and text and the twin's record, text and story in, one reversible `Edit`
out (stories, boilerplate and entities at once, so one undo takes it back). It copies the
twin story's start and end, its truncation flag, its boilerplate and those of its entities
whose every token has an equal token in this text, in the same order; an entity over a changed
word is left for the editor and named in the edit's message.

`TwinIndex` answers "which annotated story is this snippet's near twin?" by a dict lookup: it
is built once (in a worker, off the screen's thread) from `curate.dedup.find_duplicates`,
which reuses .curate/dedup.json while the records have not changed. A twin's source is a gold
record (not skipped or flagged), else a `done` record of any annotator.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path

from curate.editing import Edit, EditRefused
from curate.model import Annotation, BoilerplateRange, Entity, Story
from curate.text import TextModel

# ---------------------------------------------------------------- alignment


@dataclass(frozen=True)
class Alignment:
    """Token `i` of the source text and token `exact[i]` of the target are the same word
    (-1: changed or gone). `first[i]` / `last[i]` are where a range starting / ending at source
    token `i` starts / ends in the target, also through changed words (a dateline with another
    city still starts where the target's dateline starts)."""

    exact: list[int]
    first: list[int]
    last: list[int]


def _words(text: str, tokens: list[tuple[int, int]]) -> list[str]:
    return [text[start:end].casefold() for start, end in tokens]


def align(source_text: str, source_tokens: list[tuple[int, int]], target_text: str, target_tokens: list[tuple[int, int]]) -> Alignment:
    """Align two texts' tokens (see `Alignment`); junk heuristics off, so common words count."""
    source_words, target_words = _words(source_text, source_tokens), _words(target_text, target_tokens)
    count = len(source_words)
    exact, first, last = [-1] * count, [-1] * count, [-1] * count
    matcher = SequenceMatcher(None, source_words, target_words, autojunk=False)
    for tag, low, high, target_low, target_high in matcher.get_opcodes():
        for index in range(low, high):
            if tag == "equal":
                exact[index] = first[index] = last[index] = target_low + index - low
            elif tag == "replace":
                # words added in the target are taken to come first for a range's start (a
                # longer dateline) and last for a range's end
                extra = max(0, (target_high - target_low) - (high - low))
                first[index] = min(target_high - 1, target_low + extra + index - low)
                last[index] = min(target_high - 1, target_low + index - low)
            else:  # delete: the words are not in the target; a range starting here starts after them
                first[index] = target_low if target_low < len(target_words) else -1
                last[index] = target_low - 1
    return Alignment(exact, first, last)


# ---------------------------------------------------------------- copying


@dataclass(frozen=True)
class CopyResult:
    edit: Edit
    story: int
    """The index of this snippet's story that became the twin's copy."""
    entities: int
    copied: int
    not_mapped: list[str] = field(default_factory=list)
    """The surface text of each entity (or boilerplate range) left for the editor."""


def _tokens_in(tokens: list[tuple[int, int]], starts: list[int], start: int, end: int) -> tuple[int, int]:
    """Indexes [first, last) of the tokens inside [start, end)."""
    first = bisect_left(starts, start)
    last = first
    while last < len(tokens) and tokens[last][1] <= end:
        last += 1
    return first, last


def _region(model: TextModel, first_token: int, last_token: int) -> tuple[int, int]:
    """The story range in the target for tokens first..last: from the start of the first token's
    sentence (its line start for a paragraph's first sentence, as `b` marks a story) to where the
    first sentence starting after the last token begins (the text's end if none)."""
    tokens = model.tokens
    start = 0 if first_token == 0 else model.boundary_offset(model.sentence_start_at(tokens[first_token][0]))
    after = tokens[last_token][1]
    later = [sentence for sentence in model.sentence_starts if sentence >= after]
    end = model.boundary_offset(later[0]) if later else len(model.text)
    return start, max(end, after)


def _cut(record: Annotation, start: int, end: int, truncated: bool) -> tuple[list[Story], int]:
    """The record's stories with [start, end) made one story (flag `truncated`), and its index.
    A story cut in two keeps its flag on both parts."""
    length = record.text_length
    starts = {story.start for story in record.stories if not start < story.start < end} | {start}
    if end < length:
        starts.add(end)
    starts.discard(0)
    bounds = [0, *sorted(starts), length]
    stories = []
    index = 0
    for number, (low, high) in enumerate(zip(bounds, bounds[1:])):
        if low == start:
            stories.append(Story(start=low, end=high, truncated=truncated))
            index = number
        else:
            stories.append(Story(start=low, end=high, truncated=record.stories[record.story_of(high - 1)].truncated))
    return stories, index


def _outside(items: list, start: int, end: int, bounds: set[int], make) -> list:
    """`items` (boilerplate) not overlapping [start, end), each cut at the new story bounds."""
    kept = []
    for item in items:
        if item.start < end and item.end > start:
            continue
        cuts = sorted(bound for bound in bounds if item.start < bound < item.end)
        edges = [item.start, *cuts, item.end]
        kept.extend(make(item, low, high) for low, high in zip(edges, edges[1:]))
    return kept


def copy_twin(record: Annotation, text: str, source: Annotation, source_text: str, source_story: int, *, source_id: str = "the twin") -> CopyResult:
    """One edit that gives this snippet's copy of the twin story (story `source_story` of
    `source`) the twin's story start and end, truncation flag, boilerplate and entities.

    Raises EditRefused when fewer than half the twin story's words are found in this text, or
    when the copy would change nothing."""
    if not 0 <= source_story < len(source.stories):
        raise EditRefused(f"{source_id} has no story {source_story + 1}")
    model, source_model = TextModel(text), TextModel(source_text)
    tokens, source_tokens = model.tokens, source_model.tokens
    story = source.stories[source_story]
    low, high = _tokens_in(source_tokens, source_model.token_starts, story.start, story.end)
    alignment = align(source_text, source_tokens, text, tokens)
    mapped = [alignment.exact[index] for index in range(low, high) if alignment.exact[index] >= 0]
    if 2 * len(mapped) < high - low or not mapped:
        raise EditRefused(f"only {len(mapped)} of the {high - low} words of {source_id} story {source_story + 1} are in this snippet: not a twin")
    first = alignment.first[low] if alignment.first[low] >= 0 else mapped[0]
    last = alignment.last[high - 1] if alignment.last[high - 1] >= first else mapped[-1]
    start, end = _region(model, min(first, mapped[0]), max(last, mapped[-1]))
    stories, index = _cut(record, start, end, story.truncated)
    bounds = {item.start for item in stories}

    not_mapped: list[str] = []
    entities = [entity for entity in record.entities if entity.end <= start or entity.start >= end]
    copied = 0
    twin_entities = [entity for entity in source.entities if story.start <= entity.start < story.end]
    for entity in twin_entities:
        inside_low, inside_high = _tokens_in(source_tokens, source_model.token_starts, entity.start, entity.end)
        targets = [alignment.exact[token] for token in range(inside_low, inside_high)]
        contiguous = targets and all(target >= 0 for target in targets) and targets == list(range(targets[0], targets[0] + len(targets)))
        if contiguous:
            # the same offsets inside the first and last tokens (an entity is token-aligned in practice)
            new_start = tokens[targets[0]][0] + (entity.start - source_tokens[inside_low][0])
            new_end = tokens[targets[-1]][1] - (source_tokens[inside_high - 1][1] - entity.end)
            if start <= new_start < new_end <= end:
                entities.append(Entity(start=new_start, end=new_end, label=entity.label))
                copied += 1
                continue
        not_mapped.append(source_text[entity.start : entity.end])
    entities.sort(key=lambda entity: entity.start)

    boilerplate = _outside(record.boilerplate, start, end, bounds, lambda item, low, high: BoilerplateRange(start=low, end=high, kind=item.kind))
    for item in source.boilerplate:
        if not story.start <= item.start < story.end:
            continue
        inside_low, inside_high = _tokens_in(source_tokens, source_model.token_starts, item.start, item.end)
        if inside_high == inside_low:
            continue
        head, tail = alignment.first[inside_low], alignment.last[inside_high - 1]
        if head < 0 or tail < head:
            not_mapped.append(source_text[item.start : item.end])
            continue
        new_start, new_end = max(tokens[head][0], start), min(tokens[tail][1], end)
        if new_start < new_end:
            boilerplate.append(BoilerplateRange(start=new_start, end=new_end, kind=item.kind))
    boilerplate.sort(key=lambda item: item.start)

    after = {"stories": tuple(stories), "boilerplate": tuple(boilerplate), "entities": tuple(entities)}
    before = {"stories": tuple(record.stories), "boilerplate": tuple(record.boilerplate), "entities": tuple(record.entities)}
    if after == before:
        raise EditRefused(f"story {index + 1} already has the marks of {source_id} story {source_story + 1}")
    message = f"copied {source_id} story {source_story + 1} onto story {index + 1}: copied {copied} of {len(twin_entities)} entities"
    if not_mapped:
        message += f"; {len(not_mapped)} not mapped: " + ", ".join(f"“{surface[:30]}”" for surface in not_mapped[:4])
        if len(not_mapped) > 4:
            message += ", …"
    edit = Edit("copy twin", before, after, message)
    return CopyResult(edit, index, len(twin_entities), copied, not_mapped)


# ---------------------------------------------------------------- finding twins


@dataclass(frozen=True)
class Twin:
    """An annotated near twin of a story of a snippet."""

    start: int
    end: int
    """The story's range in this snippet (from the record dedup read: its best record)."""
    source_id: str
    source_story: int
    similarity: float
    source: Annotation
    source_text: str


@dataclass
class TwinIndex:
    """Snippet id -> its stories' annotated near twins (most similar first)."""

    twins: dict[str, list[Twin]] = field(default_factory=dict)

    def of(self, snippet_id: str) -> list[Twin]:
        return self.twins.get(snippet_id, [])

    def at(self, snippet_id: str, record: Annotation, offset: int) -> tuple[int, Twin] | None:
        """(this record's story index, twin) for the story holding `offset`, else for the first
        story that has a twin; None when no story of the snippet has one."""
        found = self.of(snippet_id)
        if not found:
            return None
        here = record.story_of(offset)
        for twin in found:
            if _story_over(record, twin) == here:
                return here, twin
        return _story_over(record, found[0]), found[0]


def _story_over(record: Annotation, twin: Twin) -> int:
    """The story of `record` that holds most of the twin's range. The range is where the story
    lay when the index was built; once the editor (or `T`) cuts a heading off it, the story
    holding its first character is the heading, not the twin."""
    overlaps = [min(story.end, twin.end) - max(story.start, twin.start) for story in record.stories]
    return max(range(len(overlaps)), key=lambda index: (overlaps[index], -index)) if overlaps else 0


def _annotated(corpus, snippet_ids: set[str]) -> dict[str, Annotation]:
    """The gold record (not skipped or flagged), else a done record, of each of `snippet_ids` that has one."""
    from curate.dedup import annotated_record

    gold = corpus.gold() if corpus.layout.gold.exists() else None
    journals = [corpus.journal(name) for name in corpus.annotators()]
    records: dict[str, Annotation] = {}
    try:
        for snippet_id in snippet_ids:
            record = annotated_record(gold, journals, snippet_id, corpus.position(snippet_id))
            if record is not None:
                records[snippet_id] = record
    finally:
        for journal in journals:
            journal.close()
    return records


def build_index(root: Path | str) -> TwinIndex:
    """The twin index of the corpus at `root`, read through a Corpus of its own (so a worker
    thread shares no file handle with the screen)."""
    from curate.dedup import DEFAULT_THRESHOLD, find_duplicates, jaccard, shingles
    from curate.store import Corpus

    with Corpus.open(root) as corpus:
        result = find_duplicates(corpus, DEFAULT_THRESHOLD)
        members = {member.snippet_id for cluster in result.clusters for member in cluster.members}
        records = _annotated(corpus, members)
        texts: dict[str, str | None] = {}

        def text_of(snippet_id: str) -> str | None:
            if snippet_id not in texts:
                snippet = corpus.snippet_by_id(snippet_id)
                texts[snippet_id] = None if snippet is None else snippet.text
            return texts[snippet_id]

        index = TwinIndex()
        for cluster in result.clusters:
            sources = []
            for member in cluster.members:
                record = records.get(member.snippet_id)
                if record is None:
                    continue
                story = record.story_of(member.start)
                if record.stories[story].start != member.start:
                    continue  # the cluster came from another record of the snippet than this one
                sources.append((member, story, record))
            if not sources:
                continue
            for member in cluster.members:
                for source, story, record in sources:
                    if source.snippet_id == member.snippet_id:
                        continue
                    source_text, text = text_of(source.snippet_id), text_of(member.snippet_id)
                    if source_text is None or text is None or len(source_text) != record.text_length:
                        continue
                    # the pair's own similarity (the cluster's is its weakest link)
                    similarity = jaccard(shingles(text[member.start : member.end]), shingles(source_text[source.start : source.end]))
                    twin = Twin(member.start, member.end, source.snippet_id, story, similarity, record, source_text)
                    index.twins.setdefault(member.snippet_id, []).append(twin)
        for found in index.twins.values():
            found.sort(key=lambda twin: (-twin.similarity, twin.source_id, twin.source_story))
    return index
