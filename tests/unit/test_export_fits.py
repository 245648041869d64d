"""The export's quick record check answers as `annotation_problems` does, messages included."""

from __future__ import annotations

import pytest

from curate.export.rows import _Fits
from curate.model import Annotation, BoilerplateRange, CorpusConfig, Entity, Story, annotation_problems, text_sha256

TEXT = "Kim met Putin in Moscow.\nPhoto: AP\nSecond story here.\n"


def record(**changes) -> Annotation:
    fields = {
        "snippet_id": "s",
        "annotator": "a",
        "stories": [Story(start=0, end=35), Story(start=35, end=len(TEXT))],
        "boilerplate": [BoilerplateRange(start=25, end=34, kind="credit")],
        "entities": [Entity(start=0, end=3, label="PERSON"), Entity(start=8, end=13, label="PERSON"), Entity(start=17, end=23, label="GPE")],
        "status": "done",
    }
    fields.update(changes)
    return Annotation(**fields)


CASES = {
    "fits": record(),
    "no entities or boilerplate": record(entities=[], boilerplate=[]),
    "text hash that matches": record(text_sha256=text_sha256(TEXT)),
    "text hash that does not": record(text_sha256="0" * 64),
    "stories end short": record(stories=[Story(start=0, end=35)]),
    "unknown label": record(entities=[Entity(start=0, end=3, label="ROBOT")]),
    "unknown kind": record(boilerplate=[BoilerplateRange(start=25, end=34, kind="banner-ad")]),
    "entity over a line break": record(entities=[Entity(start=17, end=30, label="GPE")]),
    "several problems": record(stories=[Story(start=0, end=35)], entities=[Entity(start=17, end=30, label="ROBOT")]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_quick_check_answers_as_annotation_problems(name):
    config = CorpusConfig(name="t")
    expected = annotation_problems(CASES[name], TEXT, config)
    assert _Fits(config).problems(CASES[name], TEXT) == expected
    assert bool(expected) == (name not in ("fits", "no entities or boilerplate", "text hash that matches"))
