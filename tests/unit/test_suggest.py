"""The pure proposers of curate.suggest on small texts written for these tests."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

from curate.model import Entity, annotation_problems
from curate.suggest.boilerplate import boilerplate_ranges
from curate.suggest.boundaries import CrfScorer, HandSetScorer, start_labels, story_starts
from curate.suggest.entities import (
    KNOWN_MODEL_FILES,
    ModelError,
    TokenSnapper,
    derive_label_map,
    flatten,
    load_ner,
    locate_model,
    merge_with_gazetteer,
    parse_label_map,
    propose_entities,
    verify_model_files,
)
from curate.suggest.features import content_words, dp_segmentation, name_keys, unit_features, units_of
from curate.suggest.gazetteer import Gazetteer, gazetteer_from_annotations, place_gazetteer
from curate.suggest.places import place_key
from curate.suggest.propose import propose_annotation
from curate.suggest.truncation import is_truncated
from curate.text import TextModel, line_starts


def starts_of(text: str, entities: list[Entity] | None = None) -> list[int]:
    model = TextModel(text)
    units = units_of(model)
    features = unit_features(model, units, entities or [], boilerplate_ranges(model))
    return story_starts(units, HandSetScorer().probabilities(features))


# ---------------------------------------------------------------- boilerplate


def test_boilerplate_lines_get_their_kinds() -> None:
    text = (
        "Harbour reopens after storm\n"
        "By Mara Quill\n"
        "The harbour at Wexbridge reopened on Tuesday after three days of gales.\n"
        "Photo: Tomas Reid / Coastal Press\n"
        "Fishing boats were back at sea by the afternoon, the harbour master said.\n"
        "Advertisement\n"
    )
    found = {(text[item.start : item.end], item.kind) for item in boilerplate_ranges(TextModel(text))}
    assert found == {
        ("By Mara Quill", "byline"),
        ("Photo: Tomas Reid / Coastal Press", "credit"),
        ("Advertisement", "navigation"),
    }


def test_dateline_line_and_dateline_prefix() -> None:
    text = "STORM HITS COAST.\nKESTON 2024-03-02\nKESTON, March 2 (Reuters) - Winds of 100 km/h tore roofs off houses on Saturday.\n"
    ranges = boilerplate_ranges(TextModel(text))
    assert [(text[item.start : item.end], item.kind) for item in ranges] == [
        ("KESTON 2024-03-02", "dateline"),
        ("KESTON, March 2 (Reuters)", "dateline"),
    ]


def test_boilerplate_kinds_are_limited_to_the_corpus_kinds() -> None:
    text = "A story about a parade in the old town square on Sunday.\nPhoto: J. Brandt\n"
    assert boilerplate_ranges(TextModel(text), kinds=["caption"]) == []


def test_prose_is_not_boilerplate() -> None:
    text = "Photographers crowded the steps as the verdict was read out in court on Friday.\n"
    assert boilerplate_ranges(TextModel(text)) == []


# ---------------------------------------------------------------- truncation


def test_a_story_cut_off_mid_sentence_is_truncated() -> None:
    text = (
        "The council approved the new bridge on Monday after a long debate.\n"
        "Work is due to start in the spring, and the mayor said that the first lanes would open to\n"
    )
    model = TextModel(text)
    assert is_truncated(model, 0, len(text))
    assert not is_truncated(model, 0, text.index("Work"))


def test_short_table_rows_and_finished_sentences_are_not_truncated() -> None:
    for text in ("Result of the cup final on Saturday:\nAttendance: 2,300\n", "He said it was over.\n", "She asked: \u201cWhy not?\u201d\n"):
        assert not is_truncated(TextModel(text), 0, len(text)), text


def test_a_trailing_ellipsis_marks_a_teaser() -> None:
    text = "Residents of the valley woke to find the river had burst its banks overnight ...\n"
    assert is_truncated(TextModel(text), 0, len(text))


def test_the_boilerplate_line_after_a_story_does_not_hide_its_cut() -> None:
    text = "Rescue teams searched the hills through the night and said that they would keep looking until\nPhoto: AP\n"
    model = TextModel(text)
    assert is_truncated(model, 0, len(text), boilerplate_ranges(model))


def test_a_story_that_ends_on_its_dateline_is_truncated() -> None:
    text = "The match ended level after extra time.\nSOCCER - CITY SIGN KEEPER.\nDUBLIN\n"
    model = TextModel(text)
    second = text.index("SOCCER")
    assert is_truncated(model, second, len(text), ends_text=True)
    assert not is_truncated(model, 0, second)


def test_a_short_fragment_is_truncated_only_where_the_text_ends() -> None:
    text = "Australia will defend\n"
    model = TextModel(text)
    assert is_truncated(model, 0, len(text), ends_text=True)
    assert not is_truncated(model, 0, len(text))
    table = "Leicestershire 22 points, Somerset 4.\nAttendance: 2,300\n"
    assert not is_truncated(TextModel(table), 0, len(table), ends_text=True)


# ---------------------------------------------------------------- story starts


def test_headline_and_dateline_open_a_story_at_the_line_start() -> None:
    text = (
        "TENNIS - KOVAC WINS IN THREE SETS.\n"
        "VIENNA 2024-05-04\n"
        "Ivo Kovac beat the second seed in three sets on Saturday to reach the final.\n"
        "He meets the winner of Sunday's semi-final between two qualifiers.\n"
        "ROWING - CITY CREW TAKES TITLE.\n"
        "GHENT 2024-05-04\n"
        "The city crew won the eights by two lengths in a headwind on the canal.\n"
    )
    starts = starts_of(text)
    assert starts == [text.index("ROWING")]
    assert set(starts) <= set(line_starts(text))


def test_a_byline_between_headline_and_dateline_stays_inside_the_story() -> None:
    text = (
        "Ferry strike ends after two weeks.\n"
        "HARWICK 2024-05-04\n"
        "Ferry crews returned to work on Saturday after the union accepted a pay offer.\n"
        "Bank cuts rates for the first time this year.\n"
        "Lena Osei\n"
        "MARLOW 2024-05-04\n"
        "The central bank cut its main rate by a quarter point on Saturday.\n"
    )
    assert starts_of(text) == [text.index("Bank cuts")]


def test_a_story_starts_after_a_truncated_teaser() -> None:
    teaser = "Shoppers queued from dawn outside the new market hall in Brenner, where stall holders had been promised lower rents and longer"
    text = (
        f"{teaser}\n"
        "A rare white stag was seen in the forest above Lindau for the third time this month, rangers said.\n"
    )
    assert starts_of(text) == [text.index("A rare")]


def test_a_one_paragraph_teaser_after_a_finished_story_starts_one() -> None:
    story = [
        "The town council of Varel approved a new budget for its harbour on Monday night.",
        "The harbour budget includes money for dredging and a new quay, the council said.",
    ]
    teaser = "Mountain rescuers in the Alps found two climbers alive after a night on a ledge above the glacier, and said the pair would be flown to"
    text = "\n".join(story + [teaser]) + "\n"
    assert starts_of(text) == [text.index("Mountain")]


def test_no_story_starts_right_after_a_byline_or_a_dateline() -> None:
    text = (
        "GRINDAV\u00cdK, Iceland \u2014\n"
        "Lava crossed the road to the fishing town early on Sunday, the civil protection agency said.\n"
        "By Eleni Papadaki\n"
        "Thousands of residents were moved to safety as fires burned on the hills above the coast.\n"
    )
    model = TextModel(text)
    kinds = [(text[item.start : item.end], item.kind) for item in boilerplate_ranges(model)]
    assert kinds == [("GRINDAV\u00cdK, Iceland \u2014", "dateline"), ("By Eleni Papadaki", "byline")]
    assert text.index("Lava") not in starts_of(text) and text.index("Thousands") not in starts_of(text)


def test_a_change_of_subject_starts_a_story_where_no_layout_says_so() -> None:
    first = [
        "The orchestra of Varel opened its season with a symphony by the young composer Ilse Brandt.",
        "Brandt conducted the orchestra herself, and the symphony drew long applause in Varel.",
        "Critics praised the orchestra and said the symphony was the best work of the season.",
        "The orchestra will play the symphony again in Varel next week.",
    ]
    second = [
        "Farmers near Olsted harvested a record wheat crop after a warm and dry summer.",
        "The wheat harvest in Olsted was the largest the farmers had seen in twenty years.",
        "Grain prices fell as farmers brought the wheat to market, traders in Olsted said.",
        "Farmers plan to store part of the wheat crop until prices recover.",
    ]
    text = "\n".join(first + second) + "\n"
    assert starts_of(text) == [text.index("Farmers near")]


def test_on_a_page_with_a_cut_off_story_a_change_of_subject_alone_weighs_less() -> None:
    first = [
        "The orchestra of Varel opened its season with a symphony by the young composer Ilse Brandt.",
        "Brandt conducted the orchestra herself, and the symphony drew long applause in Varel.",
        "Critics praised the orchestra and said the symphony was the best work of the season.",
    ]
    second = [
        "Farmers near Olsted harvested a record wheat crop after a warm and dry summer.",
        "The wheat harvest in Olsted was the largest the farmers had seen in twenty years.",
    ]
    teaser = "Mountain rescuers in the Alps found two climbers alive after a night on a ledge above the glacier, and said the pair would be flown to"

    def rows(text: str) -> tuple[list, list[dict[str, float]]]:
        model = TextModel(text)
        units = units_of(model)
        return units, unit_features(model, units, [], boilerplate_ranges(model))

    plain = "\n".join(first + second) + "\n"
    assert {row["cut_page"] for row in rows(plain)[1]} == {0.0}
    units, features = rows("\n".join(first + second + [teaser]) + "\n")
    assert {row["cut_page"] for row in features} == {1.0}
    # The same evidence, once with and once without a cut-off story on the page: the start with
    # no cut at it loses 2 in log-odds; the teaser, which is cut, loses nothing.
    without = [dict(row, cut_page=0.0) for row in features]
    odds = [math.log(p / (1 - p)) for p in HandSetScorer().probabilities(features)]
    odds_without = [math.log(p / (1 - p)) for p in HandSetScorer().probabilities(without)]
    subject, cut = len(first), len(first) + len(second)
    assert odds_without[subject] - odds[subject] == pytest.approx(2.0)
    assert odds_without[cut] == pytest.approx(odds[cut])
    assert units[cut].boundary in story_starts(units, HandSetScorer().probabilities(features))


def test_sentences_are_the_units_of_a_one_paragraph_text() -> None:
    text = "The dam held. Engineers checked it twice. A new comet was found by amateurs in Chile. It will be visible in May."
    model = TextModel(text)
    units = units_of(model)
    assert [text[unit.start : unit.end] for unit in units][2] == "A new comet was found by amateurs in Chile."
    assert units[2].boundary == model.boundary_offset(units[2].start)


def test_the_first_unit_is_never_a_start() -> None:
    units = units_of(TextModel("One line.\nAnother line.\n"))
    assert story_starts(units, [1.0, 0.0]) == []
    assert story_starts(units, [1.0, 1.0]) == [units[1].boundary]


def test_demonyms_continue_the_place_they_name() -> None:
    assert place_key("Russian") == place_key("Russia") == "russia"
    keys = name_keys("Russian troops crossed the border.", 0, [])
    assert "russia" in keys


def test_content_words_share_stems() -> None:
    assert set(content_words("elections")) == set(content_words("election"))
    assert "the" not in content_words("the river")


def test_segmentation_cuts_where_vocabulary_changes() -> None:
    from collections import Counter

    first = [Counter({"violin": 2, "concert": 1}), Counter({"violin": 1, "concert": 2}), Counter({"concert": 1, "violin": 1})]
    second = [Counter({"wheat": 2, "harvest": 1}), Counter({"harvest": 2, "wheat": 1}), Counter({"wheat": 1, "harvest": 1})]
    assert dp_segmentation(first + second) == {3}


FILLER = [
    "Grain prices rose again today.",
    "Traders expect more gains this week.",
    "Rain is forecast for the weekend.",
    "The council meets on Monday.",
    "Officials in Varel gave no reason for the delay.",
    "Tickets sold out within an hour.",
]


def briefly_text(number: int) -> tuple[str, int]:
    """Filler paragraphs around one paragraph opening with the corpus's marker BRIEFLY."""
    before = [FILLER[(number + k) % len(FILLER)] for k in range(1 + number % 3)]
    after = [FILLER[(number + k + 3) % len(FILLER)] for k in range(1 + (number + 1) % 2)]
    marker = f"BRIEFLY the library in town {number} opens late on some days."
    text = "\n".join(before + [marker] + after) + "\n"
    return text, text.index("BRIEFLY")


def test_learned_crf_picks_up_a_corpus_marker(tmp_path: Path) -> None:
    sequences, labels = [], []
    for number in range(24):
        text, start = briefly_text(number)
        model = TextModel(text)
        units = units_of(model)
        sequences.append(unit_features(model, units, [], []))
        labels.append(start_labels(units, {start}))
    scorer = CrfScorer.fit(sequences, labels, tmp_path / "crf.model")
    text = "Weather turns cold across the north tonight.\nFrost is likely.\nBRIEFLY a choir sings at noon.\nAll are welcome.\n"
    model = TextModel(text)
    units = units_of(model)
    features = unit_features(model, units, [], [])
    assert story_starts(units, scorer.probabilities(features)) == [text.index("BRIEFLY")]
    assert text.index("BRIEFLY") not in story_starts(units, HandSetScorer().probabilities(features))


# ---------------------------------------------------------------- entities (pure parts)


def test_label_map_for_conll_labels_follows_the_bench_readme() -> None:
    mapping = derive_label_map(["PER", "ORG", "LOC", "MISC"])
    assert mapping["PERSON"] == "PER"
    assert mapping["GPE"] == mapping["LOC"] == mapping["FAC"] == "LOC"
    for label in ("NORP", "EVENT", "PRODUCT", "WORK_OF_ART", "LAW", "LANGUAGE"):
        assert mapping[label] == "MISC"
    assert "DATE" not in mapping and "CARDINAL" not in mapping


def test_label_map_defaults_to_identity_and_takes_overrides() -> None:
    labels = ["PERSON", "ORG", "GPE", "LOC", "NORP", "FAC", "EVENT"]
    mapping = derive_label_map(labels)
    assert all(mapping[label] == label for label in labels)
    assert "PRODUCT" not in mapping
    changed = derive_label_map(labels, parse_label_map("FAC=LOC, NORP="))
    assert changed["FAC"] == "LOC" and "NORP" not in changed
    with pytest.raises(ValueError, match="not a corpus label"):
        derive_label_map(labels, {"PERSON": "PER"})
    with pytest.raises(ValueError, match="MODEL=CORPUS"):
        parse_label_map("PERSON")


def test_snapper_grows_ranges_to_curate_tokens() -> None:
    text = "Talks in Jong-un's home town ended."
    snapper = TokenSnapper(TextModel(text))
    start = text.index("Jong")
    assert snapper.snap(start + 1, start + 4) == (start, start + len("Jong-un"))
    assert snapper.snap(text.index(" in") , text.index(" in") + 1) is None


def test_gazetteer_overrides_overlapping_model_spans() -> None:
    model_spans = [Entity(start=0, end=5, label="ORG"), Entity(start=10, end=20, label="PERSON")]
    gazetteer_spans = [Entity(start=0, end=9, label="LOC")]
    merged = merge_with_gazetteer(model_spans, gazetteer_spans)
    assert [(entity.start, entity.end, entity.label) for entity in merged] == [(0, 9, "LOC"), (10, 20, "PERSON")]


def test_flatten_drops_overlaps() -> None:
    spans = [Entity(start=4, end=9, label="A"), Entity(start=0, end=6, label="B"), Entity(start=9, end=12, label="C")]
    assert [(entity.start, entity.label) for entity in flatten(spans)] == [(0, "B"), (9, "C")]


def test_gazetteer_from_editors_labels_matches_elsewhere_on_token_edges() -> None:
    labelled = "Rotor Volgograd beat Dynamo on Sunday."
    gazetteer = gazetteer_from_annotations([(labelled, [Entity(start=0, end=15, label="ORG")])])
    text = "Fans of Rotor Volgograd's rivals waited outside."
    model = TextModel(text)
    found = gazetteer.matches(model)
    assert [(text[entity.start : entity.end], entity.label) for entity in found] == [("Rotor Volgograd", "ORG")]
    assert {found[0].start, found[0].end} <= model.token_edges


def test_gazetteer_leaves_out_strings_editors_mostly_left_unlabelled() -> None:
    text = "May rain came in May. May the best team win. In May we sail."
    gazetteer = gazetteer_from_annotations([(text, [Entity(start=text.index("in May") + 3, end=text.index("in May") + 6, label="MISC")])])
    assert len(gazetteer) == 0


def test_place_gazetteer_maps_through_the_label_map() -> None:
    gazetteer = place_gazetteer(derive_label_map(["PER", "ORG", "LOC", "MISC"]))
    text = "Talks between France and the Dutch delegation in Kyiv."
    found = [(text[entity.start : entity.end], entity.label) for entity in gazetteer.matches(TextModel(text))]
    assert found == [("France", "LOC"), ("Dutch", "MISC"), ("Kyiv", "LOC")]


def test_proposed_annotation_is_valid_and_entities_stay_inside_stories() -> None:
    teaser = "Shoppers queued from dawn outside the new market hall in Brenner, where stall holders had been promised lower rents and"
    text = f"{teaser}\nOlsted Farmers harvested wheat.\n"
    boundary = text.index("Olsted")
    crossing = Entity(start=text.index("and"), end=boundary + len("Olsted"), label="ORG")
    inside = Entity(start=boundary, end=boundary + len("Olsted Farmers"), label="ORG")
    record = propose_annotation("s1", TextModel(text), [crossing, inside], annotator="model:test@1")
    assert record.story_starts == [boundary]
    assert record.stories[0].truncated and not record.stories[1].truncated
    assert [(entity.start, entity.end) for entity in record.entities] == [(inside.start, inside.end)]
    assert record.status is None
    assert annotation_problems(record, text, token_edges=TextModel(text).token_edges) == []


# ---------------------------------------------------------------- the spaCy model


@pytest.fixture(scope="module")
def nlp():
    model, _source = load_ner("en_core_web_sm")
    return model


def test_only_the_ner_component_is_loaded(nlp) -> None:
    assert nlp.pipe_names == ["ner"]


def test_model_entities_land_on_token_edges_in_corpus_labels(nlp) -> None:
    text = "Angela Merkel met Emmanuel Macron in Paris on Monday.\nThe Bundesbank said nothing.\n"
    model = TextModel(text)
    mapping = derive_label_map(["PER", "ORG", "LOC", "MISC"])
    [found] = propose_entities([model], nlp, mapping, Gazetteer())
    spans = {(text[entity.start : entity.end], entity.label) for entity in found}
    assert ("Angela Merkel", "PER") in spans and ("Paris", "LOC") in spans
    assert all({entity.start, entity.end} <= model.token_edges for entity in found)
    assert {entity.label for entity in found} <= {"PER", "ORG", "LOC", "MISC"}


def test_a_changed_model_file_is_refused(tmp_path: Path) -> None:
    source = locate_model("en_core_web_sm")
    assert source.known in KNOWN_MODEL_FILES
    verify_model_files(source)  # the installed package passes
    copy = tmp_path / "model"
    shutil.copytree(source.path, copy)
    with (copy / "ner" / "model").open("ab") as handle:
        handle.write(b"\0")
    changed = type(source)(name=source.name, version=source.version, path=copy, known=source.known)
    with pytest.raises(ModelError, match="ner/model has sha256"):
        verify_model_files(changed)
