"""Snippets and annotators' `done` records as flat arrays in one global offset space.

The compared snippets are laid end to end: snippet ``k`` occupies the global offsets
``base[k] .. base[k] + len(text_k)``. Story starts, entities and boilerplate of every
annotator are stored at global offsets, so pooling over snippets is plain numpy work and the
snippet of any offset is a ``searchsorted`` away. Nothing here reads files.

Units follow docs/data-contract.md: the cut points of a snippet are the starts of its non-empty lines
(:func:`curate.text.line_starts`) plus every story start placed by a compared annotator;
the snippet's first unit begins at offset 0, so its first line start is a cut point only
when someone starts a story there. Tokens are :func:`curate.text.token_spans` of the whole
text, which equal ``TextModel(text).tokens`` (tokens never cross whitespace, so cutting the
text into paragraphs first changes nothing).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import chain, compress
from operator import attrgetter
from typing import Any

import numpy as np

from curate.agreement.layout import flat_layout
from curate.agreement.memory import release_free_memory
from curate.agreement.records import Record, record_of

NO_KIND = 0  # a paragraph outside every boilerplate range; kinds are numbered from 1


def _int_array(values: Sequence[int] | np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


class _Numbering(dict):
    """Name -> vocabulary number, asking the vocabulary once per distinct name, in order of
    first sight (as the vocabulary numbers names it has not seen)."""

    def __init__(self, vocabulary: "Vocabulary") -> None:
        super().__init__()
        self.vocabulary = vocabulary

    def __missing__(self, name: str) -> int:
        number = self[name] = self.vocabulary.number(name)
        return number


def _numbers(names: Iterable[str], count: int, vocabulary: "Vocabulary") -> np.ndarray:
    """The vocabulary number of each of ``count`` names."""
    return np.fromiter(map(_Numbering(vocabulary).__getitem__, names), dtype=np.int64, count=count)


def _label_dtype(vocabulary_size: int) -> type:
    """Entity label numbers in 16 bits while they fit (a 1M-snippet corpus has some 45M
    entities: 270 MB less than int64); arithmetic on them widens first."""
    return np.int16 if vocabulary_size < 2**15 else np.int64


def _offset_dtype(total_length: int) -> type:
    """Entity offsets in 32 bits while every offset fits (a 1M-snippet corpus has some 45M
    entities and 520M characters: 360 MB less than int64); arithmetic on them widens first."""
    return np.int32 if total_length < 2**31 else np.int64


def _snippet_dtype(texts: "Texts") -> type:
    return np.int32 if len(texts) < 2**31 else np.int64


class SnippetIds(Sequence[str]):
    """Snippet ids packed as UTF-8 bytes and offsets (a million ids in some 15 MB rather than
    a million Python strings); ``ids[k]`` decodes the one asked for."""

    def __init__(self, data: np.ndarray, ends: np.ndarray) -> None:
        self.data = data  # uint8
        self.ends = ends  # int64, one past each id's last byte

    @classmethod
    def of(cls, ids: Iterable[str]) -> "SnippetIds":
        encoded = [sid.encode("utf-8", "surrogatepass") for sid in ids]
        data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        return cls(data, np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))))

    @classmethod
    def concatenate(cls, parts: Sequence["SnippetIds"]) -> "SnippetIds":
        shifts = np.concatenate(([0], np.cumsum([part.data.size for part in parts])))[:-1]
        return cls(
            np.concatenate([part.data for part in parts]) if parts else np.zeros(0, dtype=np.uint8),
            np.concatenate([part.ends + shift for part, shift in zip(parts, shifts.tolist())]) if parts else np.zeros(0, dtype=np.int64),
        )

    def __len__(self) -> int:
        return self.ends.size

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[number] for number in range(*index.indices(len(self)))]
        index = int(index)
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        start = int(self.ends[index - 1]) if index else 0
        return self.data[start : int(self.ends[index])].tobytes().decode("utf-8", "surrogatepass")

    def __eq__(self, other: object) -> bool:
        return list(self) == list(other) if isinstance(other, (SnippetIds, list)) else NotImplemented


@dataclass
class Texts:
    """The compared snippets' ids, lengths, line cuts, tokens and paragraphs at global offsets."""

    ids: SnippetIds
    lengths: np.ndarray
    base: np.ndarray
    line_cuts: np.ndarray
    token_starts: np.ndarray
    token_counts: np.ndarray
    paragraph_start: np.ndarray
    paragraph_end: np.ndarray
    has_layout: bool = True  # token starts and paragraph offsets are here

    @classmethod
    def from_texts(cls, ids: Sequence[str], texts: Sequence[str]) -> "Texts":
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        base = np.concatenate(([0], np.cumsum(lengths)))[:-1].astype(np.int64)
        flat = flat_layout(texts)
        return cls(
            SnippetIds.of(ids),
            lengths,
            base,
            flat.line_starts[~flat.first_line],
            flat.token_starts,
            flat.token_counts,
            flat.paragraph_start,
            flat.paragraph_end,
        )

    @classmethod
    def lengths_only(cls, ids: Sequence[str], texts: Sequence[str]) -> "Texts":
        """Ids and offsets without lines, tokens or paragraphs (enough to rank disagreement)."""
        lengths = _int_array([len(text) for text in texts])
        base = np.concatenate(([0], np.cumsum(lengths)))[:-1].astype(np.int64)
        empty = np.zeros(0, dtype=np.int64)
        return cls(SnippetIds.of(ids), lengths, base, empty, empty, np.zeros(len(texts), dtype=np.int64), empty, empty, has_layout=False)

    @classmethod
    def concatenate(cls, parts: Sequence["Texts"]) -> "Texts":
        """The parts laid end to end, in order (offsets of later parts shifted)."""
        shifts = np.concatenate(([0], np.cumsum([part.total_length for part in parts])))[:-1]
        join = lambda name: np.concatenate([getattr(part, name) + shift for part, shift in zip(parts, shifts)])  # noqa: E731
        return cls(
            SnippetIds.concatenate([part.ids for part in parts]),
            np.concatenate([part.lengths for part in parts]),
            join("base"), join("line_cuts"), join("token_starts"),
            np.concatenate([part.token_counts for part in parts]),
            join("paragraph_start"), join("paragraph_end"),
            all(part.has_layout for part in parts),
        )

    def without_tokens_and_paragraphs(self) -> "Texts":
        """These texts without token starts and paragraph offsets, for marks whose per-token
        labels and paragraph kinds are already worked out (less to send between processes
        and to hold: a 1M-snippet corpus has some 90M tokens)."""
        empty = np.zeros(0, dtype=np.int64)
        return Texts(self.ids, self.lengths, self.base, self.line_cuts, empty, self.token_counts, empty, empty, has_layout=False)

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def total_length(self) -> int:
        return int(self.lengths.sum())

    def snippet_of(self, offsets: np.ndarray) -> np.ndarray:
        """Index of the snippet holding each global offset (a story start belongs to its snippet)."""
        return np.searchsorted(self.base, offsets, side="right") - 1

    @cached_property
    def line_cut_snippet(self) -> np.ndarray:
        return self.snippet_of(self.line_cuts)

    @property
    def token_snippet(self) -> np.ndarray:
        return np.repeat(np.arange(len(self)), self.token_counts)

    @cached_property
    def paragraph_snippet(self) -> np.ndarray:
        return self.snippet_of(self.paragraph_start)


@dataclass
class Marks:
    """One annotator's `done` records over the compared snippets, at global offsets."""

    name: str
    done: np.ndarray
    story_starts: np.ndarray
    truncated_ends: np.ndarray
    entity_start: np.ndarray
    entity_end: np.ndarray
    entity_label: np.ndarray
    boilerplate_start: np.ndarray
    boilerplate_end: np.ndarray
    boilerplate_kind: np.ndarray
    stale: list[str] = field(default_factory=list)  # ids of records left out: their text changed
    _snippets: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _token_labels: np.ndarray | None = field(default=None, repr=False)
    _paragraph_kinds: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def from_records(
        cls,
        name: str,
        texts: Texts,
        records: Mapping[int, Any] | Iterable[tuple[int, Any]],
        labels: "Vocabulary",
        kinds: "Vocabulary",
        digests: Sequence[str] | None = None,
    ) -> "Marks":
        """Marks from ``{snippet index: record}`` or (index, record) pairs in index order; a
        record is an Annotation, its JSON dict or a :class:`~curate.agreement.records.Record`.
        A record is left out (``stale``) when its stories do not end at its snippet's length
        or its text_sha256 is not the snippet's (``digests``, by snippet index)."""
        pairs = sorted(records.items()) if isinstance(records, Mapping) else records
        indexes: list[int] = []
        decoded: list[Record] = []
        for index, record in pairs:
            indexes.append(index)
            decoded.append(record_of(record))
        return cls.from_decoded(name, texts, indexes, decoded, labels, kinds, digests)

    @classmethod
    def from_decoded(
        cls,
        name: str,
        texts: Texts,
        indexes: Sequence[int] | np.ndarray,
        records: Sequence[Record],
        labels: "Vocabulary",
        kinds: "Vocabulary",
        digests: Sequence[str] | None = None,
    ) -> "Marks":
        """:meth:`from_records` of ``records[k]`` at snippet ``indexes[k]`` (ascending), with
        the records' stories, entities and boilerplate flattened into arrays at once."""
        index = _int_array(indexes)
        stories = _Flat(records, "stories", ("start", "end", "truncated"))
        last_end = stories.columns["end"][stories.last()] if len(records) else index
        stale = last_end != texts.lengths[index]
        if digests is not None:
            for number, digest in enumerate([record.text_sha256 for record in records]):
                if digest is not None and not stale[number] and digest != digests[index[number]]:
                    stale[number] = True
        keep = ~stale
        done = np.zeros(len(texts), dtype=bool)
        done[index[keep]] = True
        shift = texts.base[index]

        kept_story = stories.kept(keep)
        story_shift = stories.per_item(shift)
        kept_start = kept_story & ~stories.first()
        story_starts = (stories.columns["start"] + story_shift)[kept_start]
        snippet_dtype = _snippet_dtype(texts)
        truncated_ends = (stories.columns["end"] + story_shift)[kept_story & stories.columns["truncated"].astype(bool)]

        entities = _Flat(records, "entities", ("start", "end"), "label")
        kept_entity = entities.kept(keep)
        entity_shift = entities.per_item(shift)[kept_entity]
        boilerplate = _Flat(records, "boilerplate", ("start", "end"), "kind")
        kept_bp = boilerplate.kept(keep)
        bp_shift = boilerplate.per_item(shift)[kept_bp]
        marks = cls(
            name, done, story_starts, truncated_ends,
            (entities.columns["start"][kept_entity] + entity_shift).astype(_offset_dtype(texts.total_length)),
            (entities.columns["end"][kept_entity] + entity_shift).astype(_offset_dtype(texts.total_length)),
            entities.numbers_kept(kept_entity, labels).astype(_label_dtype(len(labels))),
            boilerplate.columns["start"][kept_bp] + bp_shift,
            boilerplate.columns["end"][kept_bp] + bp_shift,
            boilerplate.numbers_kept(kept_bp, kinds),
        )
        # The snippet of each story start and entity is its record's: no search needed later.
        snippet = index.astype(snippet_dtype)
        marks._snippets["story_starts"] = stories.per_item(snippet)[kept_start]
        marks._snippets["entity_start"] = entities.per_item(snippet)[kept_entity]
        marks.stale = [texts.ids[number] for number in index[stale].tolist()]
        return marks

    @classmethod
    def concatenate(cls, parts: Sequence["Marks"], texts_parts: Sequence[Texts]) -> "Marks":
        """One annotator's marks on parts laid end to end as :meth:`Texts.concatenate` does
        (per-token labels and paragraph kinds, when every part has them, are kept).

        Parts the caller let go of before (another annotator's, joined earlier) go back to
        the system first: held as freed heap by the C library they would add up with the
        joined arrays (at 1M snippets x 3 annotators, 2.2 GB at the peak instead of 1.5)."""
        release_free_memory()
        shifts = np.concatenate(([0], np.cumsum([part.total_length for part in texts_parts])))[:-1].tolist()
        offset_dtype = _offset_dtype(sum(part.total_length for part in texts_parts))
        shifted = lambda name, dtype=np.int64: _joined([getattr(part, name) for part in parts], shifts, dtype)  # noqa: E731
        plain = lambda name: np.concatenate([getattr(part, name) for part in parts])  # noqa: E731
        joined = cls(
            parts[0].name, plain("done"), shifted("story_starts"), shifted("truncated_ends"),
            shifted("entity_start", offset_dtype), shifted("entity_end", offset_dtype), plain("entity_label"),
            shifted("boilerplate_start"), shifted("boilerplate_end"), plain("boilerplate_kind"),
            [sid for part in parts for sid in part.stale],
        )
        if all(part._token_labels is not None for part in parts):
            joined._token_labels = plain("_token_labels")
        if all(part._paragraph_kinds is not None for part in parts):
            joined._paragraph_kinds = plain("_paragraph_kinds")
        snippet_shifts = np.concatenate(([0], np.cumsum([len(part) for part in texts_parts])))[:-1]
        for name in ("story_starts", "entity_start"):
            if all(name in part._snippets for part in parts):
                dtype = np.int32 if int(snippet_shifts[-1]) + len(texts_parts[-1]) < 2**31 else np.int64
                joined._snippets[name] = _joined([part._snippets[name] for part in parts], snippet_shifts.tolist(), dtype)
        return joined

    def renumbered(self, label_numbers: np.ndarray, kind_numbers: np.ndarray) -> "Marks":
        """These marks with label numbers and kind numbers (from 1) mapped through the arrays
        (themselves when both map every number to itself)."""
        if np.array_equal(label_numbers, np.arange(label_numbers.size)) and np.array_equal(kind_numbers, np.arange(kind_numbers.size)):
            return self
        marks = Marks(
            self.name, self.done, self.story_starts, self.truncated_ends,
            self.entity_start, self.entity_end,
            label_numbers[self.entity_label].astype(_label_dtype(int(label_numbers.max(initial=0)) + 1)) if self.entity_label.size else self.entity_label,
            self.boilerplate_start, self.boilerplate_end, kind_numbers[self.boilerplate_kind] if self.boilerplate_kind.size else self.boilerplate_kind,
            self.stale,
        )
        if self._token_labels is not None:
            shifted_labels = np.concatenate(([-1, 0], label_numbers + 1)).astype(self._token_labels.dtype)
            marks._token_labels = shifted_labels[self._token_labels + 1]
        if self._paragraph_kinds is not None:
            shifted_kinds = np.concatenate(([-1], kind_numbers)).astype(self._paragraph_kinds.dtype)
            marks._paragraph_kinds = shifted_kinds[self._paragraph_kinds + 1]
        marks._snippets = dict(self._snippets)
        return marks

    def forget_layout_values(self) -> None:
        """Let go of the per-token labels and paragraph kinds worked out so far."""
        self._token_labels = None
        self._paragraph_kinds = None

    def snippets_of(self, texts: Texts, name: str) -> np.ndarray:
        """The snippet index of every offset in the array attribute ``name`` (computed once)."""
        if name not in self._snippets:
            self._snippets[name] = texts.snippet_of(getattr(self, name))
        return self._snippets[name]

    def token_labels(self, texts: Texts) -> np.ndarray:
        """Per token: -1 where this annotator did not do the snippet, 0 outside entities,
        else the entity's label number + 1. A token belongs to the entity its start lies in."""
        if self._token_labels is None:
            _need_layout(texts)
            labels = np.repeat(np.where(self.done, 0, -1).astype(np.int16), texts.token_counts)
            first = np.searchsorted(texts.token_starts, self.entity_start, side="left")
            last = np.searchsorted(texts.token_starts, self.entity_end, side="left")
            covered = last - first
            token_index = np.repeat(first, covered) + (
                np.arange(int(covered.sum())) - np.repeat(np.cumsum(covered) - covered, covered)
            )
            labels[token_index] = np.repeat(self.entity_label + 1, covered)
            self._token_labels = labels
        return self._token_labels

    def paragraph_kinds(self, texts: Texts) -> np.ndarray:
        """Per paragraph: -1 where this annotator did not do the snippet, else the kind number
        of the boilerplate range covering most of the paragraph when that is at least half of
        it, or NO_KIND."""
        if self._paragraph_kinds is None:
            _need_layout(texts)
            kinds = np.where(self.done[texts.paragraph_snippet], NO_KIND, -1).astype(np.int16)
            best = np.zeros(kinds.size, dtype=np.int64)
            first = np.searchsorted(texts.paragraph_end, self.boilerplate_start, side="right")
            last = np.searchsorted(texts.paragraph_start, self.boilerplate_end, side="left")
            for start, end, kind, low, high in zip(
                self.boilerplate_start.tolist(), self.boilerplate_end.tolist(),
                self.boilerplate_kind.tolist(), first.tolist(), last.tolist(),
            ):
                for paragraph in range(low, high):
                    p_start = int(texts.paragraph_start[paragraph])
                    p_end = int(texts.paragraph_end[paragraph])
                    overlap = min(end, p_end) - max(start, p_start)
                    if overlap > best[paragraph] and 2 * overlap >= p_end - p_start:
                        best[paragraph] = overlap
                        kinds[paragraph] = kind
            self._paragraph_kinds = kinds
        return self._paragraph_kinds


def _joined(arrays: Sequence[np.ndarray], shifts: Sequence[int], dtype: type) -> np.ndarray:
    """``np.concatenate([a + shift ...])`` as ``dtype``, written in place: no shifted copy of
    each part on the way (a 1M-snippet annotator's entity offsets are some 120 MB)."""
    joined = np.empty(sum(array.size for array in arrays), dtype=dtype)
    at = 0
    for array, shift in zip(arrays, shifts):
        own = joined[at : at + array.size]
        own[...] = array
        own += shift
        at += array.size
    return joined


def _need_layout(texts: Texts) -> None:
    if not texts.has_layout:
        raise ValueError("these texts were read without tokens and paragraphs; mark them before dropping those")


class _Flat:
    """One list field of many records (stories, entities, boilerplate) as flat columns:
    integer ``columns``, the string column ``names``, and how many items each record has."""

    def __init__(self, records: Sequence[Record], field_name: str, numbers: tuple[str, ...], text: str | None = None) -> None:
        lists = [getattr(record, field_name) for record in records]
        self.counts = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
        items = list(chain.from_iterable(lists))
        self.columns = {
            column: np.fromiter(map(attrgetter(column), items), dtype=np.int64, count=len(items))
            for column in numbers
        }
        self.names = list(map(attrgetter(text), items)) if text else []

    def per_item(self, values: np.ndarray) -> np.ndarray:
        """A per-record value repeated for each of the record's items."""
        return np.repeat(values, self.counts)

    def kept(self, keep: np.ndarray) -> np.ndarray:
        return self.per_item(keep)

    def first(self) -> np.ndarray:
        """True at each record's first item."""
        first = np.zeros(int(self.counts.sum()), dtype=bool)
        first[(np.cumsum(self.counts) - self.counts)[self.counts > 0]] = True
        return first

    def last(self) -> np.ndarray:
        """The index of each record's last item (every record has one)."""
        return np.cumsum(self.counts) - 1

    def numbers_kept(self, kept: np.ndarray, vocabulary: "Vocabulary") -> np.ndarray:
        """The vocabulary numbers of the kept items' names (only kept names are numbered)."""
        names = self.names if kept.all() else list(compress(self.names, kept.tolist()))
        return _numbers(names, len(names), vocabulary)


class Vocabulary:
    """Names numbered in order of first sight after the given ones (labels or kinds)."""

    def __init__(self, known: Sequence[str] = (), first_number: int = 0) -> None:
        self.first_number = first_number
        self.names: list[str] = []
        self._numbers: dict[str, int] = {}
        for name in known:
            self.number(name)

    def number(self, name: str) -> int:
        try:
            return self._numbers[name]
        except KeyError:
            number = self._numbers[name] = self.first_number + len(self.names)
            self.names.append(name)
            return number

    def name(self, number: int) -> str:
        return self.names[number - self.first_number]

    def __len__(self) -> int:
        return len(self.names)
