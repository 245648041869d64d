"""Story rows: boilerplate cut out, entities mapped, clipped and snapped; IOB2 both ways; splits."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from seqeval.metrics.sequence_labeling import get_entities

from curate.export.rows import SplitAssigner, entities_from_iob2, iob2_names, iob2_tags, parse_splits, story_rows
from curate.model import Annotation, BoilerplateRange, CorpusConfig, Entity, Snippet, Story
from curate.text import TextModel


def record(text: str, stories, boilerplate=(), entities=()) -> Annotation:
    return Annotation(
        snippet_id="s",
        annotator="a",
        stories=[Story(start=a, end=b, truncated=t) for a, b, t in stories],
        boilerplate=[BoilerplateRange(start=a, end=b, kind=k) for a, b, k in boilerplate],
        entities=[Entity(start=a, end=b, label=label) for a, b, label in entities],
    )


def span(text: str, part: str, after: int = 0) -> tuple[int, int]:
    start = text.index(part, after)
    return start, start + len(part)


def test_whole_line_boilerplate_goes_with_its_line_break_and_entities_follow():
    text = "Putin met Kim.\nPhoto: AP / Tass\nTass said so.\r\n\r\nNext story by Reuters\n"
    teaser = text.index("Next")
    annotation = record(
        text,
        [(0, teaser, False), (teaser, len(text), True)],
        boilerplate=[(*span(text, "Photo: AP / Tass"), "credit")],
        entities=[(*span(text, "Putin"), "PERSON"), (*span(text, "Tass"), "ORG"), (*span(text, "Tass", 28), "ORG"), (*span(text, "Reuters"), "ORG")],
    )
    first, second = story_rows(Snippet(id="s", text=text), annotation)
    assert first.text == "Putin met Kim.\nTass said so."
    assert [(first.text[a:b], label) for a, b, label in first.entities] == [("Putin", "PERSON"), ("Tass", "ORG")]
    assert (second.id, second.text, second.truncated) == ("s#1", "Next story by Reuters", True)
    assert [second.text[a:b] for a, b, _ in second.entities] == ["Reuters"]


def test_inline_boilerplate_is_cut_and_an_entity_reaching_into_it_keeps_its_tokens():
    text = "By Ana María Núñez Photo: Ana María Núñez went home."
    annotation = record(
        text,
        [(0, len(text), False)],
        boilerplate=[(*span(text, "Photo: Ana María"), "credit")],
        entities=[(*span(text, "Ana María Núñez"), "PERSON"), (*span(text, "Ana María Núñez", 5), "PERSON")],
    )
    (row,) = story_rows(Snippet(id="s", text=text), annotation)
    assert row.text == "By Ana María Núñez  Núñez went home."
    assert [row.text[a:b] for a, b, _ in row.entities] == ["Ana María Núñez", "Núñez"]
    edges = TextModel(row.text).token_edges
    assert all(a in edges and b in edges for a, b, _ in row.entities)


def test_a_story_that_is_all_boilerplate_has_no_row():
    text = "Story one.\nAdvertisement\n"
    cut = text.index("Advertisement")
    annotation = record(text, [(0, cut, False), (cut, len(text), False)], boilerplate=[(cut, len(text) - 1, "ad")])
    rows = story_rows(Snippet(id="s", text=text), annotation)
    assert [(row.id, row.text) for row in rows] == [("s#0", "Story one.")]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 4), st.sampled_from(["O", "PERSON", "ORG"])), min_size=1, max_size=12))
def test_iob2_tags_and_decoding_agree_with_seqeval(chunks):
    words = []
    entities = []
    position = 0
    for length, label in chunks:
        start = position
        for _ in range(length):
            words.append((position, position + 3))
            position += 4
        if label != "O":
            entities.append((start, position - 1, label))
    labels = ["PERSON", "ORG"]
    names = iob2_names(labels)
    tags = [names[tag] for tag in iob2_tags(words, entities, {label: index for index, label in enumerate(labels)})]
    assert [(words[a][0], words[b][1], label) for label, a, b in get_entities(tags)] == entities
    assert entities_from_iob2(tags, words) == entities


def test_iob1_and_bioes_tags_read_like_iob2():
    words = [(i * 2, i * 2 + 1) for i in range(6)]
    assert entities_from_iob2(["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "O"], words) == [(0, 3, "PER"), (6, 7, "LOC"), (8, 9, "LOC")]
    assert entities_from_iob2(["B-PER", "E-PER", "S-PER", "O", "U-LOC", "O"], words) == [(0, 3, "PER"), (4, 5, "PER"), (8, 9, "LOC")]


def test_splits_are_stable_and_close_to_their_fractions():
    assign = SplitAssigner({"train": 0.8, "validation": 0.1, "test": 0.1})
    ids = [f"snippet-{number}" for number in range(20_000)]
    counts = Counter(assign(snippet_id) for snippet_id in ids)
    assert abs(counts["train"] / len(ids) - 0.8) < 0.015 and abs(counts["test"] / len(ids) - 0.1) < 0.01
    assert [assign(snippet_id) for snippet_id in reversed(ids)] == [assign(snippet_id) for snippet_id in ids][::-1]


def test_parse_splits():
    config = CorpusConfig(name="c")
    assert parse_splits(None, config) == {"train": 0.8, "validation": 0.1, "test": 0.1}
    assert parse_splits("0.9,0.1", config) == {"train": 0.9, "test": 0.1}
    for bad in ("0.5,0.6", "a,b", "0.2,0.2,0.2,0.4"):
        with pytest.raises(ValueError, match="--splits"):
            parse_splits(bad, config)


def test_story_tokens_are_the_text_models_tokens():
    from pathlib import Path

    from curate.export.rows import story_tokens

    seed = Path("/work/shared/seeds/000_43b149b2d09b88e5.txt")
    texts = ["Kim Jong-un’s U.S. visit\u200b cost $1,703.50 (9km)…\r\n\r\n  O'Brien said: “no”.", "\u2028x\u2029y"]
    if seed.exists():
        texts.append(seed.read_text(encoding="utf-8"))
    for text in texts:
        assert story_tokens(text) == TextModel(text).tokens
