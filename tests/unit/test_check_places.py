"""The check jump's places (curate.navigation.check_places / check_step): names without a
label worth a stop and entities with a reason against them, in text order."""

from __future__ import annotations

from curate.model import Annotation, Entity, Story
from curate.navigation import check_places, check_step
from curate.text import TextModel

TEXT = (
    "The talks began on Monday when President Joe Biden met the New York Times.\n"
    "Huge crowds cheered an anti-war Putin’s aide as Acme sold acme bricks.\n"
    "Maria Lopez spoke to Reuters. Lopez said AirAsia flew. Then AirAsia rose."
)


def span(text: str, nth: int = 0) -> tuple[int, int]:
    start = -1
    for _ in range(nth + 1):
        start = TEXT.index(text, start + 1)
    return start, start + len(text)


def entity(text: str, label: str, nth: int = 0) -> Entity:
    start, end = span(text, nth)
    return Entity(start=start, end=end, label=label)


def record() -> Annotation:
    entities = [
        entity("Joe Biden", "PERSON"),
        entity("the New York Times", "ORG"),
        entity("anti-war", "NORP"),
        entity("Putin’s", "PERSON"),
        entity("Acme", "ORG"),
        entity("Maria Lopez", "PERSON"),
        entity("AirAsia", "GPE"),
        entity("AirAsia", "ORG", 1),
    ]
    return Annotation(snippet_id="s", annotator="ana", stories=[Story(start=0, end=len(TEXT))], entities=entities)


def described(model: TextModel, places) -> list[tuple[str, bool, str]]:
    tokens = model.tokens
    return [(TEXT[tokens[place.first][0] : tokens[place.last][1]], place.select, place.reason) for place in places]


def test_places_are_names_without_a_label_and_entities_in_doubt_in_text_order():
    model = TextModel(TEXT)
    assert described(model, check_places(record(), model)) == [
        ("the New York Times", False, "'the' inside the span"),
        ("anti-war", False, "starts in lower case"),
        ("Putin’s", False, "'’s' inside the span"),
        ("Acme", False, "'Acme' is also written in lower case"),
        ("Reuters", True, "no label"),
        ("Lopez", True, "no label"),  # opens a sentence, but is also inside the entity Maria Lopez
        ("AirAsia", False, "also labelled ORG"),
        ("AirAsia", False, "also labelled GPE"),
    ]
    # Passed over: Monday (a weekday), President (just before the entity Joe Biden), Huge and
    # Then (lone sentence openers the text never writes capitalised elsewhere), The (also "the").


def test_a_fixed_entity_is_no_longer_a_place():
    model = TextModel(TEXT)
    fixed = record()
    fixed.entities[1] = entity("New York Times", "ORG")
    fixed.entities[3] = entity("Putin", "PERSON")
    texts = [text for text, _, _ in described(model, check_places(fixed, model))]
    assert "New York Times" not in texts and "Putin" not in texts
    assert texts[0] == "anti-war"


def test_check_step_goes_forward_and_back_from_the_cursor():
    model = TextModel(TEXT)
    current = record()
    places = check_places(current, model)
    token = 0
    walked = []
    while (place := check_step(current, model, token, 1)) is not None:
        walked.append(place)
        token = place.first
    assert walked == places
    back = []
    while (place := check_step(current, model, token, -1)) is not None:
        back.append(place)
        token = place.first
    assert back == places[-2::-1]
    assert check_step(current, model, len(model.tokens) - 1, 1) is None


def test_no_tokens_no_places():
    model = TextModel(" ")
    empty = Annotation(snippet_id="s", annotator="ana", stories=[Story(start=0, end=1)])
    assert check_places(empty, model) == []
    assert check_step(empty, model, 0, 1) is None


def test_name_runs_are_the_runs_o_walks():
    from curate.navigation import name_run, name_runs

    model = TextModel(TEXT)
    current = record()
    walked = []
    token = -1
    while (run := name_run(current, model, max(token, 0), 1) if token >= 0 else name_run(current, model, 0, 1)) is not None:
        if walked and run[0] <= walked[-1][0]:
            break
        walked.append(run)
        token = run[1]
    runs = name_runs(current, model)
    first_run = name_run(current, model, 1, -1)  # o from token 0 skips a run starting there
    expected = ([first_run] if first_run is not None and first_run[0] == 0 else []) + walked
    assert runs == expected
    assert [TEXT[model.tokens[a][0] : model.tokens[b][1]] for a, b in runs] == [
        "Monday", "President", "Huge", "Reuters", "Lopez", "Then",
    ]


HEADLINE = (
    "SOCCER - ROMANIA BEAT LITHUANIA IN UNDER-21 MATCH.\n"
    "Romania beat the visitors in a match played in rain; P. Simmons and Pat O'Brien watched."
)


def test_the_check_jump_reads_headlines_and_initials():
    from curate.navigation import name_runs

    model = TextModel(HEADLINE)
    empty = Annotation(snippet_id="s", annotator="ana", stories=[Story(start=0, end=len(HEADLINE))])

    def texts(runs):
        return [HEADLINE[model.tokens[a][0] : model.tokens[b][1]] for a, b in runs]

    # o's runs: capitals only, so the headline is one run and initials break a name.
    assert texts(name_runs(empty, model)) == ["SOCCER", "ROMANIA BEAT LITHUANIA IN UNDER-21 MATCH", "Romania", "P", "Simmons", "Pat O", "Brien"]
    # The check jump's: an all-capitals word written in lower case elsewhere is no name.
    assert texts(name_runs(empty, model, strict=True)) == ["SOCCER", "ROMANIA", "LITHUANIA", "UNDER-21", "Romania", "P. Simmons", "Pat O'Brien"]
    # SOCCER and Romania, lone sentence openers never written so elsewhere, are passed over.
    assert texts((place.first, place.last) for place in check_places(empty, model)) == ["ROMANIA", "LITHUANIA", "UNDER-21", "P. Simmons", "Pat O'Brien"]
