"""Record rules of DESIGN.md, enforced by curate.model."""

import json

import pytest
from pydantic import ValidationError

from curate.model import (
    Annotation,
    CorpusConfig,
    GoldAnnotation,
    LabelSpec,
    Snippet,
    Story,
    annotation_problems,
    default_labels,
    safe_name_problem,
    text_sha256,
    validation_reason,
)
from curate.store import StoreError, check_annotator_name
from curate.text import TextModel

TEXT = "Kim Jong-un met Moon Jae-in.\nPhoto: AP\nSeoul teaser text"


def annotation(**changes):
    data = {
        "snippet_id": "s1",
        "annotator": "alice",
        "text_sha256": text_sha256(TEXT),
        "stories": [{"start": 0, "end": 39}, {"start": 39, "end": len(TEXT), "truncated": True}],
        "boilerplate": [{"start": 29, "end": 38, "kind": "credit"}],
        "entities": [{"start": 0, "end": 11, "label": "PERSON"}, {"start": 16, "end": 27, "label": "PERSON"}],
        "status": "done",
    }
    data.update(changes)
    return Annotation.model_validate(data)


def test_a_valid_record_round_trips_through_json():
    record = annotation()
    assert Annotation.model_validate_json(record.model_dump_json()) == record
    assert record.story_starts == [39]
    assert record.story_of(45) == 1 and record.story_of(0) == 0
    assert annotation_problems(record, TEXT, CorpusConfig(name="c"), TextModel(TEXT).token_edges) == []


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"stories": [{"start": 1, "end": len(TEXT)}]}, "first story must start at 0"),
        ({"stories": [{"start": 0, "end": 20}, {"start": 25, "end": len(TEXT)}], "entities": [], "boilerplate": []}, "contiguous"),
        ({"stories": [{"start": 0, "end": 0}]}, "greater than start"),
        ({"stories": []}, "at least 1"),
        ({"entities": [{"start": 0, "end": 11, "label": "PERSON"}, {"start": 4, "end": 15, "label": "ORG"}]}, "must not overlap"),
        ({"entities": [{"start": 16, "end": 27, "label": "PERSON"}, {"start": 0, "end": 11, "label": "PERSON"}]}, "sorted"),
        ({"entities": [{"start": 35, "end": 45, "label": "ORG"}]}, "inside one story"),
        ({"boilerplate": [{"start": 30, "end": 45, "kind": "credit"}]}, "inside one story"),
        ({"entities": [{"start": -1, "end": 3, "label": "ORG"}]}, "greater than or equal to 0"),
        ({"status": "finished"}, "status"),
        ({"colour": "red"}, "Extra inputs are not permitted"),
        ({"seconds": -1}, "greater than or equal to 0"),
    ],
)
def test_structural_rules_are_enforced_by_the_model(changes, message):
    with pytest.raises(ValidationError, match=message):
        annotation(**changes)


def test_entities_must_not_overlap_even_across_labels_and_touching_is_fine():
    record = annotation(entities=[{"start": 0, "end": 3, "label": "PERSON"}, {"start": 3, "end": 11, "label": "PERSON"}])
    assert len(record.entities) == 2


def test_problems_that_need_the_text_and_the_config():
    config = CorpusConfig(name="c", labels=default_labels(["PER", "ORG"]), boilerplate_kinds=["caption"])
    record = annotation()
    problems = annotation_problems(record, TEXT + "!", config, TextModel(TEXT).token_edges)
    assert any("stories end at 56 but the text of 's1' has 57 characters" in problem for problem in problems)
    assert any("text_sha256 does not match" in problem for problem in problems)
    assert any("label 'PERSON', not one of ['ORG', 'PER']" in problem for problem in problems)
    assert any("kind 'credit', not one of ['caption']" in problem for problem in problems)


def test_entities_must_start_and_end_on_token_edges():
    record = annotation(entities=[{"start": 0, "end": 2, "label": "PERSON"}])
    problems = annotation_problems(record, TEXT, None, TextModel(TEXT).token_edges)
    assert problems == ["entity [0,2) 'Ki' does not start and end on token edges"]


def test_an_entity_must_not_hold_a_line_break():
    text = "Spain met in Cáceres\nThe National desk\u2028Oslo Fjord"
    record = Annotation(
        snippet_id="s1",
        annotator="alice",
        stories=[{"start": 0, "end": len(text)}],
        entities=[{"start": 13, "end": 33, "label": "GPE"}, {"start": 34, "end": 43, "label": "LOC"}, {"start": 44, "end": 49, "label": "LOC"}],
    )
    problems = annotation_problems(record, text, None, TextModel(text).token_edges)
    assert problems == [
        "entity [13,33) 'Cáceres\\nThe National' holds a line break (an entity lies within one line)",
        "entity [34,43) 'desk\\u2028Oslo' holds a line break (an entity lies within one line)",
    ]
    one_line = record.model_copy(update={"entities": [record.entities[0].model_copy(update={"end": 20})]})
    assert annotation_problems(one_line, text, None, TextModel(text).token_edges) == []


def test_snippet_text_must_not_be_empty_or_blank():
    assert Snippet(id="a", text=" x ").meta == {}
    for text in ("", "  \n\t"):
        with pytest.raises(ValidationError):
            Snippet(id="a", text=text)
    with pytest.raises(ValidationError):
        Snippet(id="", text="x")


def test_gold_needs_an_adjudicator_and_keeps_its_sources():
    data = annotation().model_dump()
    with pytest.raises(ValidationError, match="adjudicator"):
        GoldAnnotation.model_validate(data)
    gold = GoldAnnotation.model_validate(data | {"adjudicator": "carol", "sources": ["alice", "bob"]})
    assert gold.sources == ["alice", "bob"] and gold.adjudicator == "carol"


def test_default_config_has_the_design_labels_on_keys_one_to_seven():
    config = CorpusConfig(name="demo")
    assert [(label.name, label.key) for label in config.labels] == [
        ("PERSON", "1"), ("ORG", "2"), ("GPE", "3"), ("LOC", "4"), ("NORP", "5"), ("FAC", "6"), ("EVENT", "7"),
    ]
    assert config.boilerplate_kinds == ["caption", "credit", "byline", "dateline", "ad", "navigation"]
    assert config.label_for_key("3") == "GPE" and config.label_for_key("9") is None
    assert len({label.colour for label in config.labels}) == 7


def test_config_refuses_repeated_labels_or_keys_and_bad_splits():
    with pytest.raises(ValidationError, match="label names repeat"):
        CorpusConfig(name="c", labels=[LabelSpec(name="A", key="1", colour="red"), LabelSpec(name="A", key="2", colour="red")])
    with pytest.raises(ValidationError, match="label keys repeat"):
        CorpusConfig(name="c", labels=[LabelSpec(name="A", key="1", colour="red"), LabelSpec(name="B", key="1", colour="red")])
    with pytest.raises(ValidationError, match="splits must add up to 1"):
        CorpusConfig(name="c", splits={"train": 0.5})
    with pytest.raises(ValueError, match="at most 9 labels"):
        default_labels([f"L{index}" for index in range(10)])


def test_label_keys_are_the_digits_one_to_nine():
    assert LabelSpec(name="PER", key="9", colour="#fff").key == "9"
    for key in ("0", "a", "10", ""):
        with pytest.raises(ValidationError):
            LabelSpec(name="PER", key=key, colour="#fff")


@pytest.mark.parametrize("name", ["../victim", "/abs/path", "a/../../b", "..", ".", "", "a\\b", "a b", "tab\there", "nl\n", ".hidden", "x" * 65])
def test_config_refuses_split_and_annotator_names_that_are_not_one_safe_path_component(name):
    with pytest.raises(ValidationError) as caught:
        CorpusConfig(name="c", splits={name: 0.5, "train": 0.5})
    assert caught.value.errors()[0]["loc"] == ("splits",)
    assert "not allowed as a file name" in validation_reason(caught.value)
    with pytest.raises(ValidationError) as caught:
        CorpusConfig(name="c", annotators=["ana", name])
    assert caught.value.errors()[0]["loc"] == ("annotators",)
    assert safe_name_problem(name) is not None


def test_safe_names_are_the_rule_of_annotator_names():
    for name in ("train", "validation", "test", "dev-2", "ana", "ben.smith", "A_1", "x" * 64):
        assert safe_name_problem(name) is None
        assert check_annotator_name(name) == name
        assert CorpusConfig(name="c", annotators=[name]).annotators == [name]  # split names: the Hub's stricter rule (test_corpus_toml_messages.py)
    for name in ("../victim", ".hidden", "a/b", "x" * 65):
        with pytest.raises(StoreError):
            check_annotator_name(name)


@pytest.mark.parametrize("name", ["PER/SON", "../X", "PER\n", "P" * 65, "1PER", ""])
def test_label_names_are_safe_file_names_and_their_error_is_one_line(name):
    with pytest.raises(ValidationError) as caught:
        LabelSpec(name=name, key="1", colour="red")
    reason = validation_reason(caught.value)
    assert "\n" not in reason and "errors.pydantic.dev" not in reason
    assert reason.startswith("name: ")


@pytest.mark.parametrize("field, value", [
    ("start", "17"), ("start", 17.0), ("start", True), ("end", "20"), ("end", 20.5), ("truncated", "yes"), ("truncated", 1),
])
def test_story_fields_are_strict_in_python_and_in_json(field, value):
    data = {"start": 0, "end": 20, field: value}
    for read in (Story.model_validate, lambda item: Story.model_validate_json(json.dumps(item))):
        with pytest.raises(ValidationError) as caught:
            read(data)
        assert caught.value.errors()[0]["loc"] == (field,)
    assert Story.model_validate_json('{"start": 17, "end": 20, "truncated": true}') == Story(start=17, end=20, truncated=True)


@pytest.mark.parametrize("changes", [
    {"snippet_id": 5}, {"annotator": ["a"]}, {"text_sha256": 1}, {"note": 3}, {"updated_at": 0}, {"status": 1},
    {"seconds": "3"}, {"seconds": float("nan")}, {"seconds": float("inf")}, {"seconds": 10**400},
    {"entities": [{"start": 0, "end": "11", "label": "PERSON"}]}, {"entities": [{"start": 0, "end": 11, "label": 7}]},
    {"boilerplate": [{"start": 29, "end": 38, "kind": None}]},
])
def test_annotation_fields_take_only_their_json_type(changes):
    with pytest.raises(ValidationError):
        annotation(**changes)
    assert annotation(seconds=3).seconds == 3.0  # a JSON integer is a number


def test_gold_and_snippet_and_config_are_strict_too():
    data = annotation().model_dump()
    with pytest.raises(ValidationError, match="sources"):
        GoldAnnotation.model_validate(data | {"adjudicator": "carol", "sources": ["alice", 2]})
    with pytest.raises(ValidationError, match="id"):
        Snippet.model_validate({"id": 17, "text": "x"})
    for changes in ({"overlap": "2"}, {"overlap": 2.0}, {"splits": {"train": "1"}}, {"annotators": [1]}, {"language": 1}, {"splits": {"train": float("nan")}}):
        with pytest.raises(ValidationError):
            CorpusConfig.model_validate({"name": "c"} | changes)
    with pytest.raises(ValidationError, match="key"):
        LabelSpec.model_validate({"name": "A", "key": 1, "colour": "red"})
    assert CorpusConfig.model_validate({"name": "c", "splits": {"train": 1}}).splits == {"train": 1.0}


def test_card_facts_are_optional_config_keys_and_a_missing_one_is_not_written(tmp_path):
    from curate.store import read_config, write_config

    config = CorpusConfig(name="c", description="Written for a test.")
    write_config(tmp_path, config)
    text = (tmp_path / "corpus.toml").read_text(encoding="utf-8")
    assert 'description = "Written for a test."' in text
    assert "citation" not in text  # TOML has no null; an unstated fact stays out
    assert read_config(tmp_path).description == "Written for a test."
    with pytest.raises(ValidationError):
        CorpusConfig(name="c", citation=3)
