"""The records of docs/data-contract.md as pydantic v2 models: snippets, annotations, gold and corpus config.

Structural rules (ordering, contiguity, flat entities) are enforced by the models themselves.
Rules that need the snippet's text or the corpus config (stories cover the text, labels are
known, entities on token edges) are checked by :func:`annotation_problems`, because a record
read from a journal is validated before its snippet is at hand.
"""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_right
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError, field_validator, model_validator

Status = Literal["done", "skipped", "flagged"]
STATUSES: tuple[str, ...] = ("done", "skipped", "flagged")


def text_sha256(text: str) -> str:
    """The hex sha256 of a snippet's text as UTF-8, stored in annotations to notice changed text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def utc_now() -> str:
    """The current time as an ISO 8601 UTC string with a `Z` suffix."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


# Names that become file or folder names (annotators, splits): one safe path component. The same
# rule as curate.store.check_annotator_name: a letter or digit first (so never `.`, `..` or a
# hidden file), then letters, digits, `.`, `_`, `-`; no `/`, `\\`, spaces or control characters.
SAFE_NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._\-]{0,63}"
_SAFE_NAME = re.compile(SAFE_NAME_PATTERN)
SAFE_NAME_RULE = "use letters, digits, '.', '_' or '-' (at most 64, starting with a letter or digit)"


def safe_name_problem(name: object) -> str | None:
    """Why `name` cannot be a file or folder name (None when it can)."""
    if not isinstance(name, str):
        return f"{name!r} is not a string"
    if not _SAFE_NAME.fullmatch(name):
        return f"{name!r} is not allowed as a file name: {SAFE_NAME_RULE}"
    return None


# What the Hugging Face `datasets` library takes as a split name (datasets.naming._split_re,
# checked by NamedSplit): word characters, with single dots only between them. Not `-`,
# not `train.` or `a..b`.
_HUB_SPLIT_NAME = re.compile(r"\w+(\.\w+)*")
HUB_SPLIT_RULE = "a split name the Hub accepts is letters, digits and '_' (a '.' only between them)"


def split_name_problem(name: object) -> str | None:
    """Why `name` cannot name a split of an exported dataset (None when it can)."""
    problem = safe_name_problem(name)
    if problem is None and not _HUB_SPLIT_NAME.fullmatch(name):
        problem = f"{name!r} is not allowed as a split name: {HUB_SPLIT_RULE}"
    return problem


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_\-]+")


def error_location(loc: tuple) -> str:
    """A pydantic error's place as `entities.0.start`; a key that is not a plain word (a key from
    the input, such as an unknown field) is quoted with its control characters escaped."""
    return ".".join(
        str(part) if isinstance(part, int) or _PLAIN_KEY.fullmatch(str(part)) else ascii(str(part))
        for part in loc
    )


def validation_reason(error: ValidationError) -> str:
    """A pydantic error as one line (`field: reason; field: reason`), without pydantic's URL."""
    problems = []
    for item in error.errors():
        where = error_location(item["loc"])
        message = " ".join(str(item["msg"]).removeprefix("Value error, ").split())
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems)


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Snippet(_Record):
    """A source text, immutable after ingest."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(min_length=1, strict=True)
    text: str = Field(min_length=1, strict=True)
    meta: dict[str, Any] = Field(default_factory=dict)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("text is empty (only whitespace)")
        return text


# The largest offset a record may hold: JSON's safe integer range (2**53 - 1), which JavaScript
# tools read exactly and every index into a Python str or numpy int64 array holds.
MAX_OFFSET = 2**53 - 1


class Span(_Record):
    """Python `str` offsets (code points) into the snippet's text, end exclusive."""

    start: int = Field(ge=0, le=MAX_OFFSET, strict=True, description="first character, a Python str index (code point)")
    end: int = Field(ge=0, le=MAX_OFFSET, strict=True, description="one past the last character")

    @model_validator(mode="after")
    def _ordered(self) -> "Span":
        if self.end <= self.start:
            raise ValueError(f"end {self.end} must be greater than start {self.start}")
        return self


class Story(Span):
    """One story of a snippet; `truncated` when its text stops before the story ends."""

    truncated: bool = Field(default=False, strict=True, description="the text stops before the story ends (a teaser)")


class BoilerplateRange(Span):
    """A range that is not story text: a caption, credit, byline, dateline, ad or navigation."""

    kind: str = Field(min_length=1, strict=True)


class Entity(Span):
    """A named-entity mention; `label` is one of the corpus labels."""

    label: str = Field(min_length=1, strict=True)


class Annotation(_Record):
    """One annotator's record for one snippet (also the shape of suggestions).

    `status` is None while a snippet is being edited and has not been accepted, skipped or
    flagged yet (and for machine suggestions); the data contract names the three final values.
    """

    snippet_id: str = Field(min_length=1, strict=True)
    annotator: str = Field(min_length=1, strict=True, description="who made it; `model:NAME` for machine suggestions")
    text_sha256: str | None = Field(default=None, strict=True, description="sha256 of the snippet's text as UTF-8 when annotated")
    stories: list[Story] = Field(min_length=1, description="ordered, contiguous, covering [0, len(text))")
    boilerplate: list[BoilerplateRange] = Field(default_factory=list, description="sorted, not overlapping, each inside one story")
    entities: list[Entity] = Field(default_factory=list, description="sorted, flat (not overlapping), each inside one story")
    status: Status | None = Field(default=None, description="null while in progress and for suggestions")
    note: str | None = Field(default=None, strict=True)
    seconds: float = Field(default=0.0, ge=0, allow_inf_nan=False, strict=True, description="time spent on the snippet")
    updated_at: str | None = Field(default=None, strict=True, description="ISO 8601 UTC time of the save")

    @model_validator(mode="after")
    def _structure(self) -> "Annotation":
        if self.stories[0].start != 0:
            raise ValueError(f"the first story must start at 0, not {self.stories[0].start}")
        for before, after in zip(self.stories, self.stories[1:]):
            if after.start != before.end:
                raise ValueError(
                    f"stories must be ordered and contiguous: one ends at {before.end}, "
                    f"the next starts at {after.start}"
                )
        for before, after in zip(self.entities, self.entities[1:]):
            if after.start < before.end:
                raise ValueError(
                    f"entities must be sorted and must not overlap: "
                    f"[{before.start},{before.end}) and [{after.start},{after.end})"
                )
        for before, after in zip(self.boilerplate, self.boilerplate[1:]):
            if after.start < before.end:
                raise ValueError(
                    f"boilerplate ranges must be sorted and must not overlap: "
                    f"[{before.start},{before.end}) and [{after.start},{after.end})"
                )
        ends = [story.end for story in self.stories]
        for item in (*self.entities, *self.boilerplate):
            story = _story_index(ends, item.start)
            if story is None or item.end > self.stories[story].end:
                raise ValueError(
                    f"[{item.start},{item.end}) must lie inside one story"
                )
        return self

    @property
    def story_starts(self) -> list[int]:
        """The story boundaries: the start of every story but the first."""
        return [story.start for story in self.stories[1:]]

    @property
    def text_length(self) -> int:
        return self.stories[-1].end

    def story_of(self, offset: int) -> int:
        """The index of the story holding character `offset`."""
        index = _story_index([story.end for story in self.stories], offset)
        return len(self.stories) - 1 if index is None else index


def _story_index(ends: list[int], offset: int) -> int | None:
    index = bisect_right(ends, offset)
    return index if index < len(ends) else None


class GoldAnnotation(Annotation):
    """An adjudicated record: who it came from and who decided."""

    sources: list[StrictStr] = Field(default_factory=list)
    adjudicator: str = Field(min_length=1, strict=True)


LABEL_NAME_PATTERN = r"[A-Za-z][A-Za-z0-9_\-]{0,63}"
_LABEL_NAME = re.compile(LABEL_NAME_PATTERN)
LABEL_NAME_RULE = "use a letter first, then letters, digits, '_' or '-' (at most 64)"


class LabelSpec(_Record):
    """An entity label, the key (1-9) that applies it in the annotation UI, and its colour."""

    name: str = Field(min_length=1, max_length=64, strict=True, pattern=r"^[A-Za-z][A-Za-z0-9_\-]*$", description="also a safe file name")
    key: str = Field(pattern=r"^[1-9]$", strict=True, description="the digit key that applies the label")
    colour: str = Field(min_length=1, strict=True, description="a colour name or #rrggbb")

    @field_validator("name", mode="before")
    @classmethod
    def _name_in_words(cls, name: object) -> object:
        """Say what a label name may be in words (pydantic would quote its regular expression)."""
        if isinstance(name, str) and not _LABEL_NAME.fullmatch(name):
            raise ValueError(f"label name {name!r} is not allowed: {LABEL_NAME_RULE}")
        return name

    @field_validator("key", mode="before")
    @classmethod
    def _key_in_words(cls, key: object) -> object:
        if isinstance(key, str) and not (len(key) == 1 and key in "123456789"):
            raise ValueError(f"key {key!r} is not allowed: a label's key is one digit from 1 to 9")
        return key


DEFAULT_LABELS: tuple[tuple[str, str], ...] = (
    ("PERSON", "#e06c75"),
    ("ORG", "#61afef"),
    ("GPE", "#98c379"),
    ("LOC", "#56b6c2"),
    ("NORP", "#c678dd"),
    ("FAC", "#d19a66"),
    ("EVENT", "#e5c07b"),
    ("PRODUCT", "#be5046"),
    ("MISC", "#abb2bf"),
)
DEFAULT_LABEL_NAMES: tuple[str, ...] = ("PERSON", "ORG", "GPE", "LOC", "NORP", "FAC", "EVENT")
DEFAULT_BOILERPLATE_KINDS: tuple[str, ...] = (
    "caption",
    "credit",
    "byline",
    "dateline",
    "ad",
    "navigation",
)
_FALLBACK_COLOURS = ("#e06c75", "#61afef", "#98c379", "#56b6c2", "#c678dd", "#d19a66", "#e5c07b", "#be5046", "#abb2bf")


def default_labels(names: list[str] | tuple[str, ...] = DEFAULT_LABEL_NAMES) -> list[LabelSpec]:
    """Label specs for `names` on keys 1-9 with distinct colours."""
    if len(names) > 9:
        raise ValueError(f"at most 9 labels fit on the keys 1-9, got {len(names)}")
    bad = [name for name in names if not isinstance(name, str) or not _LABEL_NAME.fullmatch(name)]
    if bad:
        raise ValueError(f"label name(s) {', '.join(map(repr, bad))} not allowed: {LABEL_NAME_RULE}")
    known = dict(DEFAULT_LABELS)
    specs = []
    for index, name in enumerate(names):
        colour = known.get(name, _FALLBACK_COLOURS[index % len(_FALLBACK_COLOURS)])
        specs.append(LabelSpec(name=name, key=str(index + 1), colour=colour))
    return specs


Convention = Literal["inside", "outside"]


class SpanConventions(_Record):
    """corpus.toml's `[conventions]`: whether a leading "the", a trailing "'s" and a leading title
    belong inside an entity's span; an unset one is learned from the editors' records
    (curate.suggest.conventions), "outside" without enough of them."""

    determiner: Convention | None = Field(default=None, description='"the New York Times" (inside) or "New York Times" (outside)')
    possessive: Convention | None = Field(default=None, description="\"Putin's\" (inside) or \"Putin\" (outside)")
    title: Convention | None = Field(default=None, description='"President Putin" (inside) or "Putin" (outside), for person labels')


class LearningConfig(_Record):
    """corpus.toml's `[learning]`: when `curate annotate` refits the corpus's models in the background."""

    every: int = Field(default=10, ge=0, strict=True, description="refit after this many snippets newly marked done in a session (0: never)")


class CorpusConfig(_Record):
    """The contents of corpus.toml."""

    name: str = Field(min_length=1, strict=True)
    language: str = Field(default="en", strict=True)
    license: str = Field(default="unknown", strict=True)
    labels: list[LabelSpec] = Field(default_factory=default_labels, min_length=1)
    boilerplate_kinds: list[StrictStr] = Field(default_factory=lambda: list(DEFAULT_BOILERPLATE_KINDS))
    annotators: list[StrictStr] = Field(
        default_factory=list, json_schema_extra={"items": {"type": "string", "pattern": f"^{SAFE_NAME_PATTERN}$"}}
    )
    annotations_creators: list[StrictStr] = Field(default_factory=lambda: ["expert-generated"])
    overlap: int = Field(default=2, ge=1, strict=True)
    splits: dict[StrictStr, Annotated[float, Field(strict=True, allow_inf_nan=False)]] = Field(
        default_factory=lambda: {"train": 0.8, "validation": 0.1, "test": 0.1},
        json_schema_extra={"propertyNames": {"pattern": f"^{SAFE_NAME_PATTERN}$"}},
    )
    # Facts for the dataset card (curate/export/card.py); a missing one is said to be missing.
    description: StrictStr | None = None
    source_data: StrictStr | None = None
    uses: StrictStr | None = None
    limitations: StrictStr | None = None
    personal_information: StrictStr | None = None
    citation: StrictStr | None = None
    # Span conventions for suggestions (curate/suggest/conventions.py); unset: learned, else outside.
    conventions: SpanConventions | None = None
    # Learning while annotating (curate/learning_loop.py); unset: every 10 snippets done.
    learning: LearningConfig | None = None

    @field_validator("annotators")
    @classmethod
    def _annotator_names(cls, names: list[str]) -> list[str]:
        problems = [problem for problem in map(safe_name_problem, names) if problem]
        if problems:
            raise ValueError("; ".join(problems))
        return names

    @field_validator("splits")
    @classmethod
    def _split_names(cls, splits: dict[str, float]) -> dict[str, float]:
        problems = [problem for problem in map(split_name_problem, splits) if problem]
        if problems:
            raise ValueError("; ".join(problems))
        return splits

    @model_validator(mode="after")
    def _unique(self) -> "CorpusConfig":
        names = [label.name for label in self.labels]
        keys = [label.key for label in self.labels]
        if len(set(names)) != len(names):
            raise ValueError(f"label names repeat: {names}")
        if len(set(keys)) != len(keys):
            raise ValueError(f"label keys repeat: {keys}")
        if self.splits and abs(sum(self.splits.values()) - 1.0) > 1e-6:
            raise ValueError(f"splits must add up to 1, got {sum(self.splits.values())}")
        return self

    @property
    def label_names(self) -> list[str]:
        return [label.name for label in self.labels]

    def label_for_key(self, key: str) -> str | None:
        for label in self.labels:
            if label.key == key:
                return label.name
        return None


# Line breaks as curate.text counts them (\r\n, \n, \r, U+2028, U+2029): paragraphs are lines.
_LINE_BREAK = re.compile("[\n\r\u2028\u2029]")


def annotation_problems(
    record: Annotation,
    text: str,
    config: CorpusConfig | None = None,
    token_edges: set[int] | None = None,
) -> list[str]:
    """What is wrong with `record` for this snippet `text` (empty when nothing is)."""
    problems: list[str] = []
    if record.text_length != len(text):
        problems.append(
            f"stories end at {record.text_length} but the text of {record.snippet_id!r} "
            f"has {len(text)} characters"
        )
    if record.text_sha256 is not None and record.text_sha256 != text_sha256(text):
        problems.append(f"text_sha256 does not match the text of {record.snippet_id!r}")
    if config is not None:
        labels = set(config.label_names)
        for entity in record.entities:
            if entity.label not in labels:
                problems.append(
                    f"entity [{entity.start},{entity.end}) has label {entity.label!r}, "
                    f"not one of {sorted(labels)}"
                )
        kinds = set(config.boilerplate_kinds)
        for item in record.boilerplate:
            if item.kind not in kinds:
                problems.append(
                    f"boilerplate [{item.start},{item.end}) has kind {item.kind!r}, "
                    f"not one of {sorted(kinds)}"
                )
    for entity in record.entities:
        if _LINE_BREAK.search(text, entity.start, entity.end):
            problems.append(
                f"entity [{entity.start},{entity.end}) {text[entity.start:entity.end]!r} holds a line break "
                f"(an entity lies within one line)"
            )
    if token_edges is not None:
        for entity in record.entities:
            if entity.start not in token_edges or entity.end not in token_edges:
                problems.append(
                    f"entity [{entity.start},{entity.end}) {text[entity.start:entity.end]!r} "
                    f"does not start and end on token edges"
                )
    return problems


MODELS_WITH_SCHEMAS: dict[str, type[BaseModel]] = {
    "snippet": Snippet,
    "annotation": Annotation,
    "gold_annotation": GoldAnnotation,
    "corpus_config": CorpusConfig,
}
