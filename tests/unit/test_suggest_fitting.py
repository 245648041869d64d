"""Issue 16 items 2 and 3: the pieces that make learning faster and better, as pure functions.

Acronym shape and expansion features of the entity tagger, table-row and sub-heading features of story-start units, the pipeline parsed once per fit,
and the quicker name keys and gazetteer lookups giving what the slow ones gave.
"""

from __future__ import annotations

from curate.model import Entity
from curate.suggest import features as unit_module
from curate.suggest import tagger as tagger_module
from curate.suggest.features import is_subheading, is_table_row, unit_features, units_of
from curate.suggest.gazetteer import Gazetteer, token_key
from curate.suggest.lexicons import _key
from curate.suggest.tagger import ParsedTexts, acronym_expansions, acronym_shape, is_acronym, token_features, token_tags
from curate.text import TextModel


def test_acronyms_are_short_runs_of_capitals() -> None:
    assert [is_acronym(word) for word in ["NYSE", "EU", "A", "NATIONAL", "Nyse", "G7", "U.S"]] == [True, True, False, False, False, False, False]
    assert acronym_shape("NYSE") == ["acro_len=4"]
    assert acronym_shape("NGOs") == ["acro_len=3", "acro_tail"]
    assert acronym_shape("IMF's") == ["acro_len=3", "acro_tail"]
    assert acronym_shape("Nyse") == [] and acronym_shape("LONDONS") == []


def test_an_acronym_finds_the_capitalised_words_that_spell_it_the_nearest_before_first() -> None:
    text = "The Bank for International Settlements met . BIS said the New York Stock Exchange and NYSE and the Bureau of Industry Standards . BIS again"
    words = text.split()
    found = acronym_expansions(words, [0] * len(words))
    assert words[7] == "BIS" and found[7] == (1, 5)  # glue words give no letter
    nyse = words.index("NYSE")
    assert words[found[nyse][0] : found[nyse][1]] == ["New", "York", "Stock", "Exchange"]
    last = len(words) - 2
    assert words[found[last][0] : found[last][1]] == ["Bureau", "of", "Industry", "Standards"]
    # an expansion never crosses a line, and a word in capitals is no expansion
    assert acronym_expansions(["New", "York", "NY"], [0, 1, 1]) == {}
    assert acronym_expansions(["NEW", "YORK", "NY"], [0, 0, 0]) == {}


def test_an_acronym_token_carries_the_label_the_model_gave_its_expansion() -> None:
    model = TextModel("The New York Stock Exchange rose.\nShares on the NYSE fell.")
    words = [model.text[start:end] for start, end in model.tokens]
    predicted = token_tags(model, [(4, 27, "ORG")])
    features = token_features(model, predicted, ["O"] * len(words), {}, None, None)
    nyse = words.index("NYSE")
    assert features[nyse]["acro_exp_model=ORG"] == 1.0 and features[nyse]["acro_len=4"] == 1.0
    assert not any(name.startswith("acro_") for name in features[words.index("Shares")])


def test_acronym_features_can_be_turned_off(monkeypatch) -> None:
    model = TextModel("The European Union and the EU.")
    monkeypatch.setattr(tagger_module, "ACRONYM_FEATURES", False)
    features = token_features(model, ["O"] * len(model.tokens), ["O"] * len(model.tokens), {}, None, None)
    assert not any(name.startswith("acro_") for row in features for name in row)


def test_table_rows_and_sub_headings() -> None:
    assert is_table_row("Choice 120.50 121.00 125.25") and is_table_row("Ajax 3 2 1 0 7")
    assert not is_table_row("Shares rose 5 percent on the news from the company")
    assert is_subheading("FIXTURES -") and is_subheading("REGION / AREA -") and is_subheading("RESULTS:")
    assert not is_subheading("SOCCER - ENGLISH PREMIER LEAGUE RESULTS AND STANDINGS TODAY")
    assert not is_subheading("Fixtures -") and not is_subheading("LONDON 1996-08-23") and not is_subheading("PLAYED 3")


def test_story_units_carry_table_and_sub_heading_features(monkeypatch) -> None:
    model = TextModel("SOCCER - LEAGUE TABLE\nAjax 3 2 1 0 7\nPSV 3 2 0 1 6\nFIXTURES -\nAjax v PSV\nThe club said it would appeal against the ban on Friday.")
    units = units_of(model)
    rows = unit_features(model, units, [], [])
    assert [row["table_row"] for row in rows] == [0.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    assert [row["table_switch"] for row in rows] == [0.0, 1.0, 0.0, 1.0, 0.0, 0.0]
    assert [row["subheading"] for row in rows] == [0.0, 0.0, 0.0, 1.0, 0.0, 0.0]
    assert rows[4]["prev_subheading"] == 1.0
    monkeypatch.setattr(unit_module, "LAYOUT_ROW_FEATURES", False)
    assert "table_row" not in unit_features(model, units, [], [])[1]


class _Token:
    def __init__(self, idx: int, tag: str) -> None:
        self.idx, self.tag_ = idx, tag


class _Doc:
    def __init__(self, text: str) -> None:
        self.ents = []
        position, self.tokens = 0, []
        for word in text.split():
            position = text.index(word, position)
            self.tokens.append(_Token(position, "NNP" if word[:1].isupper() else "NN"))
            position += len(word)

    def __iter__(self):
        return iter(self.tokens)


class _CountingPipeline:
    def __init__(self) -> None:
        self.parsed: list[str] = []

    def pipe(self, texts, batch_size=256):
        for text in texts:
            self.parsed.append(text)
            yield _Doc(text)


def test_parsed_texts_parse_each_text_once_and_give_what_model_output_gives() -> None:
    pipeline = _CountingPipeline()
    parsed = ParsedTexts(pipeline)
    models = [TextModel("Ajax won\nthe cup"), TextModel("PSV lost")]
    first = parsed(models)
    again = parsed([models[1], TextModel("Ajax won\nthe cup"), TextModel("new text")])
    assert pipeline.parsed == ["Ajax won", "the cup", "PSV lost", "new text"]
    assert first == tagger_module.model_output(_CountingPipeline(), models)
    assert again[1][0] == first[1][1] and again[1][1] == first[1][0]


def test_quick_name_keys_and_token_keys_equal_the_text_models() -> None:
    for name in ["New York", "St. John's", "Ho Chi Minh City", "Côte d'Ivoire", "U.S. Virgin Islands", "Bosnia-Herzegovina", "Two\nLines"]:
        assert _key(name) == tuple(name[start:end].lower() for start, end in TextModel(name).tokens)
    model = TextModel("Shares of New York-based Acme Corp. rose.\nAcme Corp said")
    for start, end in [(10, 24), (25, 35), (42, 51), (0, len(model.text)), (11, 12)]:
        assert token_key(model, start, end) == tuple(model.text[a:b] for a, b in model.tokens if a >= start and b <= end)


def test_gazetteer_matches_follow_entries_added_after_a_match() -> None:
    gazetteer = Gazetteer({("Acme",): "ORG"})
    model = TextModel("Acme Corp and Ajax")
    assert [(entity.start, entity.end) for entity in gazetteer.matches(model)] == [(0, 4)]
    gazetteer.add(("Acme", "Corp"), "ORG")
    gazetteer.add(("Ajax",), "ORG")
    assert [(entity.start, entity.end) for entity in gazetteer.matches(model)] == [(0, 9), (14, 18)]


def test_fit_tagger_returns_what_a_first_stage_that_did_not_learn_from_a_text_finds_on_it(tmp_path, monkeypatch) -> None:
    from curate.suggest import crftrain
    from curate.suggest import tagger as tagger_module
    from curate.suggest.tagger import fit_tagger, tags_to_entities

    names = ["Vexlar", "Quazzle", "Zorvex", "Plimbo", "Wubbleton", "Glorpax", "Drazzle", "Snorvel"]
    examples = []
    for index, name in enumerate(names):
        text = f"{name} said on Monday that shares of Acme rose.\nThe market in Paris was quiet."
        entities = [Entity(start=0, end=len(name), label="PER"), Entity(start=text.index("Acme"), end=text.index("Acme") + 4, label="ORG")]
        if index % 2:
            entities.append(Entity(start=text.index("Paris"), end=text.index("Paris") + 5, label="LOC"))
        examples.append((text, entities))
    held_out_tags = []  # the tags each held-out first stage gave the texts it did not learn from
    real_tag = crftrain.tag
    monkeypatch.setattr(crftrain, "tag", lambda path, sequences: held_out_tags.append(real_tag(path, sequences)) or held_out_tags[-1])
    found = fit_tagger(examples, [[] for _ in examples], tmp_path / "entities.crfsuite", parallel=False)
    assert len(found) == len(examples) and len(held_out_tags) == tagger_module.STAGE_FOLDS
    folds = [list(range(len(examples)))[fold :: tagger_module.STAGE_FOLDS] for fold in range(tagger_module.STAGE_FOLDS)]
    for fold, tags in zip(folds, held_out_tags):
        for index, text_tags in zip(fold, tags):
            assert found[index] == tags_to_entities(TextModel(examples[index][0]), text_tags)
    # Acme is a company in every text: the other half taught each held-out stage so
    for (text, _), entities in zip(examples, found):
        assert ("Acme", "ORG") in {(text[e.start : e.end], e.label) for e in entities}
    assert (tmp_path / "entities.crfsuite").exists()
