"""Small agreement corpora shared by the agreement tests: done records built from offsets, a
Comparison made from them, and a hypothesis strategy drawing random corpora."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from curate.agreement.marks import Marks, Texts, Vocabulary
from curate.agreement.service import Comparison
from curate.model import Annotation
from curate.text import TextModel, line_starts

LABELS = ["PER", "ORG", "LOC"]


def make_record(snippet_id, annotator, text, starts=(), entities=(), boilerplate=(), truncated=()):
    edges = [0, *sorted(starts), len(text)]
    stories = [{"start": s, "end": e, "truncated": e in truncated} for s, e in zip(edges, edges[1:])]
    return Annotation.model_validate({
        "snippet_id": snippet_id, "annotator": annotator, "stories": stories, "status": "done",
        "entities": [{"start": s, "end": e, "label": label} for s, e, label in entities],
        "boilerplate": [{"start": s, "end": e, "kind": kind} for s, e, kind in boilerplate],
    })


def comparison_of(texts: dict[str, str], records: dict[str, dict[str, Annotation]]) -> Comparison:
    """records: annotator -> snippet id -> record (done)."""
    ids = list(texts)
    compared = [sid for sid in ids if sum(sid in own for own in records.values()) >= 2]
    layout = Texts.from_texts(compared, [texts[sid] for sid in compared])
    labels, kinds = Vocabulary(LABELS), Vocabulary(["caption", "credit"], first_number=1)
    marks = [
        Marks.from_records(name, layout, {i: own[sid] for i, sid in enumerate(compared) if sid in own}, labels, kinds)
        for name, own in sorted(records.items())
    ]
    return Comparison(np.array([ids.index(sid) for sid in compared]), layout, marks, labels, kinds)


WORDS = ["Ana", "Lopez", "said", "the", "plan", "is", "late", "Lanport", "won", "U.S.", "1,703", "fans'", "cheer", "—"]


@st.composite
def corpora(draw):
    snippets = draw(st.integers(1, 4))
    texts = {}
    for number in range(snippets):
        paragraphs = draw(st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=7).map(" ".join), min_size=1, max_size=5))
        separator = draw(st.sampled_from(["\n", "\n\n", "\r\n", "\n \n"]))
        texts[f"s{number}"] = separator.join(paragraphs)
    names = draw(st.lists(st.sampled_from(["ana", "ben", "cy"]), min_size=2, max_size=3, unique=True))
    records = {name: {} for name in names}
    for sid, text in texts.items():
        model = TextModel(text)
        candidates = sorted(set(line_starts(text)[1:]) | {start for start, _ in model.tokens[1:]})
        for name in names:
            if not draw(st.booleans()) and sum(sid in own for own in records.values()) >= 1:
                continue
            starts = sorted(set(draw(st.lists(st.sampled_from(candidates), max_size=3)))) if candidates else []
            entities, position = [], 0
            tokens = model.tokens
            while position < len(tokens):
                if draw(st.integers(0, 3)) == 0:
                    width = draw(st.integers(1, 2))
                    first, last = tokens[position], tokens[min(position + width, len(tokens)) - 1]
                    if not any(first[0] < s < last[1] for s in starts):
                        entities.append((first[0], last[1], draw(st.sampled_from(LABELS))))
                    position += width
                else:
                    position += 1
            boilerplate = [
                (paragraph.start, paragraph.end, draw(st.sampled_from(["caption", "credit"])))
                for paragraph in model.paragraphs
                if not any(paragraph.start < s < paragraph.end for s in starts) and draw(st.integers(0, 3)) == 0
            ]
            records[name][sid] = make_record(sid, name, text, starts=starts, entities=entities, boilerplate=boilerplate)
    return texts, records
