"""Annotator records and small multi-annotator corpora for the merge and review tests.

One text with a person, an organisation, a place, a photo credit and a second story that runs
off the end; `record` builds an annotator's record of it with whatever they marked, and the
corpus builders write such records through the real ingest and Journal.
"""

from __future__ import annotations

import json
from pathlib import Path

from curate.ingest import ingest
from curate.model import Annotation, BoilerplateRange, Entity, Story, text_sha256
from curate.store import Corpus

TEXT = (
    "Ana Lopez met Bolt Corp in Lima.\n"
    "Photo: Ben Ray\n"
    "Storms hit Oslo on Monday and the"
)
LIMA = TEXT.index("Lima")
PHOTO = TEXT.index("Photo")
SECOND = TEXT.index("Storms")
OSLO = TEXT.index("Oslo")


def record(annotator, *, starts=(SECOND,), truncated_last=True, boilerplate=((PHOTO, PHOTO + 14, "credit"),), entities=(), snippet_id="s1", text=TEXT):
    cuts = [0, *starts, len(text)]
    stories = [Story(start=a, end=b, truncated=truncated_last and b == len(text)) for a, b in zip(cuts, cuts[1:])]
    return Annotation(
        snippet_id=snippet_id,
        annotator=annotator,
        text_sha256=text_sha256(text),
        stories=stories,
        boilerplate=[BoilerplateRange(start=a, end=b, kind=k) for a, b, k in boilerplate],
        entities=[Entity(start=a, end=b, label=label) for a, b, label in entities],
        status="done",
        updated_at="2026-11-28T10:00:00Z",
    )


ANA = ((0, 9, "PERSON"), (14, 23, "ORG"), (LIMA, LIMA + 4, "GPE"))


def corpus_of(tmp_path: Path, texts: dict[str, str]) -> Corpus:
    """A corpus at tmp_path/c ingested from {snippet id: text}."""
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": key, "text": value}) + "\n" for key, value in texts.items()))
    ingest([source], tmp_path / "c")
    return Corpus.open(tmp_path / "c")


def write_records(corpus: Corpus, annotator: str, *records: Annotation) -> None:
    with corpus.journal(annotator, writable=True) as journal:
        for item in records:
            journal.append(item)


def three_annotator_corpus(tmp_path: Path) -> Corpus:
    """s1: all agree; s2: one entity label differs; s3: everything differs somewhere; s4: ana alone."""
    corpus = corpus_of(tmp_path, {"s1": TEXT, "s2": TEXT, "s3": TEXT, "s4": TEXT})
    ben_s2 = ((0, 9, "PERSON"), (14, 23, "GPE"), (LIMA, LIMA + 4, "GPE"))
    write_records(
        corpus,
        "ana",
        record("ana", entities=ANA),
        record("ana", snippet_id="s2", entities=ANA),
        record("ana", snippet_id="s3", entities=ANA),
        record("ana", snippet_id="s4", entities=ANA),
    )
    write_records(
        corpus,
        "ben",
        record("ben", entities=ANA),
        record("ben", snippet_id="s2", entities=ben_s2),
        record("ben", snippet_id="s3", entities=((0, 9, "PERSON"), (14, 23, "GPE"), (OSLO, OSLO + 4, "LOC"))),
    )
    write_records(
        corpus,
        "cy",
        record("cy", entities=ANA),
        record("cy", snippet_id="s2", entities=ANA),
        record("cy", snippet_id="s3", starts=(), truncated_last=False, boilerplate=(), entities=((0, 3, "PERSON"), (14, 23, "ORG"))),
    )
    return Corpus.open(corpus.path)


KENYA = "Kenyan Transport said the road is open."


def same_start_corpus(tmp_path: Path) -> Corpus:
    """ana marked "Kenyan Transport" PERSON, ben "Kenyan" NORP: two spans from the same token."""
    corpus = corpus_of(tmp_path, {"k1": KENYA})
    plain = dict(starts=(), truncated_last=False, boilerplate=(), snippet_id="k1", text=KENYA)
    write_records(corpus, "ana", record("ana", entities=((0, 16, "PERSON"),), **plain))
    write_records(corpus, "ben", record("ben", entities=((0, 6, "NORP"),), **plain))
    return Corpus.open(corpus.path)
