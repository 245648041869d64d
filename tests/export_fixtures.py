"""Annotated test corpora for the export tests, built through the real ingest, Journal and GoldStore."""

from __future__ import annotations

import json
from pathlib import Path

from curate.ingest import ingest
from curate.model import Annotation, BoilerplateRange, Entity, GoldAnnotation, Story, text_sha256
from curate.store import Corpus, read_config, write_config
from curate.text import line_starts

PEOPLE = ["Kim Jong-un", "Vladimir Putin", "Ana María Núñez", "O'Brien", "Zoë Ångström"]
PLACES = ["Pyongyang", "Moscow", "São Paulo", "U.S", "New South Wales"]
ORGS = ["Tass", "RIA Novosti", "UN Security Council", "AT&T"]


def page_text(number: int) -> tuple[str, list[tuple[str, str]]]:
    """A scraped page: a full story with a photo credit line, then one or two teasers.

    Returns the text and the (mention, label) pairs to mark, in order of appearance.
    """
    person = PEOPLE[number % len(PEOPLE)]
    place = PLACES[number % len(PLACES)]
    org = ORGS[number % len(ORGS)]
    other = PEOPLE[(number + 2) % len(PEOPLE)]
    lines = [
        f"{person} arrived in {place} on Tuesday, {org} reported.",
        f"Officials said the visit — the {number}th this year — went “smoothly”.",
        f"Photo: {org} / Reuters",
        f"{person} later met {other} for talks.",
        "",
        f"Markets in {PLACES[(number + 1) % len(PLACES)]} rose 1,{number:03d} points as traders…",
    ]
    marks = [(person, "PERSON"), (place, "GPE"), (org, "ORG"), (org, "ORG"), (person, "PERSON"), (other, "PERSON"), (PLACES[(number + 1) % len(PLACES)], "GPE")]
    if number % 3 == 0:
        lines += ["Read more: subscribe now", f"{other} says tennis is back for season {number}\r"]
        marks.append((other, "PERSON"))
    return "\n".join(lines) + "\n", marks


def annotate(snippet_id: str, text: str, marks: list[tuple[str, str]], annotator: str, status: str = "done") -> Annotation:
    """Stories at the teaser lines, the credit and `Read more` lines as boilerplate, the marked entities."""
    starts = line_starts(text)
    markets = text.index("Markets in")
    story_starts = [0, markets]
    if "tennis" in text:
        story_starts.append(text.index("Read more"))
    ends = story_starts[1:] + [len(text)]
    stories = [Story(start=start, end=end, truncated=index > 0) for index, (start, end) in enumerate(zip(story_starts, ends))]
    boilerplate = []
    credit = text.index("Photo:")
    boilerplate.append(BoilerplateRange(start=credit, end=text.index("\n", credit), kind="credit"))
    if "Read more" in text:
        ad = text.index("Read more")
        boilerplate.append(BoilerplateRange(start=ad, end=text.index("\n", ad), kind="ad"))
    entities = []
    position = 0
    for mention, label in marks:
        start = text.index(mention, position)
        entities.append(Entity(start=start, end=start + len(mention), label=label))
        position = start + len(mention)
    assert starts  # the page has lines
    return Annotation(
        snippet_id=snippet_id,
        annotator=annotator,
        text_sha256=text_sha256(text),
        stories=stories,
        boilerplate=boilerplate,
        entities=entities,
        status=status,
    )


def build_corpus(root: Path, pages: int = 30, annotators: tuple[str, ...] = ("alice", "bob"), gold: bool = True) -> Path:
    """A corpus of `pages` pages, each annotated by every annotator and (if `gold`) adjudicated."""
    source = root / "pages.jsonl"
    texts = {}
    marks = {}
    with source.open("w", encoding="utf-8") as handle:
        for number in range(pages):
            snippet_id = f"page-{number:03d}"
            texts[snippet_id], marks[snippet_id] = page_text(number)
            handle.write(json.dumps({"id": snippet_id, "text": texts[snippet_id]}) + "\n")
    corpus_dir = root / "corpus"
    ingest([source], corpus_dir)
    config = read_config(corpus_dir)
    write_config(corpus_dir, config.model_copy(update={"name": "test-news", "license": "cc-by-4.0", "annotations_creators": ["expert-generated", "crowdsourced"]}))
    with Corpus.open(corpus_dir) as corpus:
        for annotator in annotators:
            with corpus.journal(annotator, writable=True) as journal:
                records = [annotate(snippet_id, texts[snippet_id], marks[snippet_id], annotator) for snippet_id in texts]
                if annotator == "bob":
                    # bob skips one page: only `done` records are exported
                    records[0] = records[0].model_copy(update={"status": "skipped"})
                journal.append_many(records)
        if gold:
            corpus.gold().put(
                *(
                    GoldAnnotation(**annotate(snippet_id, texts[snippet_id], marks[snippet_id], "gold").model_dump(), sources=list(annotators), adjudicator="carol")
                    for snippet_id in texts
                )
            )
    return corpus_dir


DEMO = Path(__file__).resolve().parent.parent / "corpora" / "demo"


def demo_corpus(root: Path, annotator: str = "demo") -> Path:
    """A copy of corpora/demo whose machine suggestions are one annotator's finished records."""
    import shutil

    from curate.model import Annotation

    corpus_dir = root / "demo"
    corpus_dir.mkdir(parents=True)
    for name in ("corpus.toml", "snippets.jsonl"):
        shutil.copyfile(DEMO / name, corpus_dir / name)
    records = []
    for line in (DEMO / "suggestions.jsonl").read_text(encoding="utf-8").splitlines():
        record = Annotation.model_validate_json(line)
        records.append(record.model_copy(update={"annotator": annotator, "status": "done"}))
    with Corpus.open(corpus_dir) as corpus:
        with corpus.journal(annotator, writable=True) as journal:
            journal.append_many(records)
    return corpus_dir
