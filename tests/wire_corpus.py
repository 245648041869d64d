"""The syndicated corpus of issue 18: 20 wire stories, each on 3 pages with two words changed."""

from __future__ import annotations

import json
import random
from pathlib import Path

from curate.ingest import ingest
from curate.model import GoldAnnotation, Story, text_sha256
from curate.store import Corpus

VOCABULARY = [f"{stem}{suffix}" for stem in ("port", "vote", "rain", "bank", "fire", "road", "coal", "mill", "farm", "ship", "tax", "court") for suffix in ("", "s", "ed", "er", "ing", "ly", "ist", "ward")]


def wire_story(number: int, length: int = 200) -> list[str]:
    rng = random.Random(number)
    return [rng.choice(VOCABULARY) for _ in range(length)]


def page_variant(story: list[str], page: int) -> str:
    """The story with two words, far apart, replaced by words no story uses (so two pages of one
    story differ in four words)."""
    changed = list(story)
    third = len(changed) // 3
    changed[third + page] = f"changed{page}a"
    changed[2 * third + page] = f"changed{page}b"
    return " ".join(changed) + "."


def wire_pages(stories: int = 20, copies: int = 3) -> dict[str, str]:
    """Snippet id -> page text; page ids are shuffled so twins are not neighbours."""
    pages = {}
    order = random.Random(7).sample(range(stories * copies), stories * copies)
    for number in range(stories):
        story = wire_story(number)
        for page in range(copies):
            pages[f"page-{order[number * copies + page]:03d}"] = page_variant(story, page)
    return dict(sorted(pages.items()))


def build_wire_corpus(root: Path, gold: bool = True) -> Path:
    source = root / "wire.jsonl"
    pages = wire_pages()
    with source.open("w", encoding="utf-8") as handle:
        for snippet_id, text in pages.items():
            handle.write(json.dumps({"id": snippet_id, "text": text}) + "\n")
    corpus_dir = root / "wire"
    ingest([source], corpus_dir)
    if gold:
        with Corpus.open(corpus_dir) as corpus:
            corpus.gold().put(
                *(
                    GoldAnnotation(snippet_id=snippet_id, annotator="gold", text_sha256=text_sha256(text), stories=[Story(start=0, end=len(text))], status="done", adjudicator="carol")
                    for snippet_id, text in pages.items()
                )
            )
    return corpus_dir


def shingle_set(text: str, size: int = 5) -> set[tuple[str, ...]]:
    tokens = [word.strip(".").lower() for word in text.split()]
    return {tuple(tokens[index : index + size]) for index in range(len(tokens) - size + 1)}


def leaked_pairs(texts: dict[str, str], split_of: dict[str, str], threshold: float = 0.5) -> int:
    """Pairs of pages in different splits whose Jaccard over word 5-grams is at least `threshold`."""
    ids = sorted(split_of)
    grams = {snippet_id: shingle_set(texts[snippet_id]) for snippet_id in ids}
    leaked = 0
    for index, first in enumerate(ids):
        for second in ids[index + 1 :]:
            if split_of[first] != split_of[second]:
                union = grams[first] | grams[second]
                if union and len(grams[first] & grams[second]) / len(union) >= threshold:
                    leaked += 1
    return leaked
