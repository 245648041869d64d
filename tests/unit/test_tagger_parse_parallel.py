"""A first fit parses on two cores: a child process loads the same spaCy pipeline and parses a share
of the texts; the output equals this process's own, and a child that fails costs only time."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from fork_threads import threads_of_this_test_only  # noqa: F401 (an autouse fixture: see its module)

from curate.suggest import crftrain
from curate.suggest import tagger as tagger_module
from curate.suggest.entities import load_ner
from curate.suggest.tagger import ParsedTexts, model_output, parse_child_share
from curate.text import TextModel

TEXTS = [
    "BERLIN 1996-08-22\nGerman carmaker Volkswagen said on Thursday that sales in Brazil rose.\nChancellor Helmut Kohl met Bill Clinton.",
    "Ajax Amsterdam beat PSV Eindhoven 2-1 in the Dutch league.\nJohan Cruyff watched from the stands.",
    "LONDON - Shares in Barclays fell after the Bank of England raised rates.",
    "The United Nations sent envoys to Sarajevo, Bosnia, officials in Geneva said.",
    "NEW YORK - The New York Stock Exchange (NYSE) closed early.\nIBM and Microsoft gained.",
    "Pakistan beat Sri Lanka by five wickets in Sharjah on Friday.",
]


@pytest.fixture(scope="module")
def pipeline():
    nlp, _ = load_ner("en_core_web_sm", with_tagger=True)
    return nlp


def _spy_children(monkeypatch) -> list[crftrain.ChildTrainer]:
    started = []
    real = crftrain.ChildTrainer

    def spy(*args, **kwargs):
        started.append(real(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(crftrain, "ChildTrainer", spy)
    monkeypatch.setattr(crftrain, "cores", lambda: 2)
    monkeypatch.setattr(tagger_module, "PARSE_CHARS_PER_SECOND", 10)  # these short texts "take" long enough to share
    monkeypatch.setattr(tagger_module, "PARSE_CHILD_START", 0.0)
    return started


@pytest.mark.parametrize("fork", [True, False])
def test_a_child_parses_a_share_of_the_texts_and_the_output_is_this_processs_own(pipeline, monkeypatch, tmp_path: Path, fork: bool) -> None:
    models = [TextModel(text) for text in TEXTS]
    alone = model_output(pipeline, models)
    started = _spy_children(monkeypatch)
    monkeypatch.setattr(crftrain, "FORK_CHILD", fork)
    shared = ParsedTexts(pipeline, tmp_path / "parses.json", "pipeline")(models)
    assert len(started) == 1 and started[0].forked == fork
    assert shared == alone
    assert any(spans for spans in alone[0]) and any(tag for tags in alone[1] for tag in tags)
    assert [path.name for path in tmp_path.iterdir()] == ["parses.json"]  # the task and output files are gone


def test_this_process_loads_the_name_lists_while_a_forked_child_parses(pipeline, monkeypatch) -> None:
    models = [TextModel(text) for text in TEXTS]
    alone = model_output(pipeline, models)
    started = _spy_children(monkeypatch)
    monkeypatch.setattr(crftrain, "FORK_CHILD", True)
    from curate.suggest import lexicons

    lexicons.lexicons.cache_clear()
    lexicons._lists_by_first_word.cache_clear()
    assert ParsedTexts(pipeline)(models) == alone
    # the fit reads them next, and its child forked from here
    assert started[0].forked and lexicons.lexicons.cache_info().currsize == 1 and lexicons._lists_by_first_word.cache_info().currsize == 1


def test_a_child_that_fails_leaves_its_texts_to_this_process(pipeline, monkeypatch, tmp_path: Path) -> None:
    models = [TextModel(text) for text in TEXTS]
    alone = model_output(pipeline, models)
    started = _spy_children(monkeypatch)
    monkeypatch.setattr(crftrain, "FORK_CHILD", False)  # a started Python loads the pipeline from its folder
    monkeypatch.setattr(tagger_module, "_spacy_source", lambda nlp: (str(tmp_path / "no-such-pipeline"), []))
    assert ParsedTexts(pipeline)(models) == alone
    assert len(started) == 1 and started[0].process.returncode not in (None, 0)


def test_a_forked_child_uses_this_processs_pipeline_and_one_killed_leaves_its_texts_here(pipeline, monkeypatch, tmp_path: Path) -> None:
    models = [TextModel(text) for text in TEXTS]
    alone = model_output(pipeline, models)
    started = _spy_children(monkeypatch)
    monkeypatch.setattr(crftrain, "FORK_CHILD", True)
    monkeypatch.setattr(tagger_module, "_spacy_source", lambda nlp: (str(tmp_path / "no-such-pipeline"), []))  # a forked child never loads it
    parsed_here = []
    real_output = tagger_module.model_output

    def counting(nlp, some, *args, **kwargs):
        parsed_here.extend(some)  # in this process; the forked child counts in its own copy
        return real_output(nlp, some, *args, **kwargs)

    monkeypatch.setattr(tagger_module, "model_output", counting)
    assert ParsedTexts(pipeline, tmp_path / "parses.json", "pipeline")(models) == alone
    assert started[0].forked and 0 < len(parsed_here) < len(models)

    def killed(task, channel) -> None:  # what the next forked child runs
        os.kill(os.getpid(), signal.SIGKILL)

    monkeypatch.setattr(tagger_module, "_child_parse", killed)
    parsed_here.clear()
    assert ParsedTexts(pipeline)(models) == alone
    assert len(started) == 2 and started[1].process.returncode == -signal.SIGKILL
    assert len(parsed_here) == len(models)  # its share was parsed here after all


def test_a_child_that_cannot_start_leaves_its_texts_to_this_process(pipeline, monkeypatch) -> None:
    models = [TextModel(text) for text in TEXTS]
    alone = model_output(pipeline, models)
    _spy_children(monkeypatch)

    def refuse(*args, **kwargs):
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", refuse)
    monkeypatch.setattr(crftrain.subprocess, "Popen", refuse)
    for fork in (True, False):
        monkeypatch.setattr(crftrain, "FORK_CHILD", fork)
        assert ParsedTexts(pipeline)(models) == alone


def test_no_child_for_one_core_short_texts_or_a_pipeline_without_a_folder(pipeline, monkeypatch) -> None:
    models = [TextModel(text) for text in TEXTS]
    started = _spy_children(monkeypatch)
    monkeypatch.setattr(crftrain, "cores", lambda: 1)
    ParsedTexts(pipeline)(models)
    monkeypatch.setattr(crftrain, "cores", lambda: 2)
    monkeypatch.setattr(tagger_module, "PARALLEL_PARSE", False)
    ParsedTexts(pipeline)(models)
    monkeypatch.setattr(tagger_module, "PARALLEL_PARSE", True)
    assert tagger_module._spacy_source(pipeline) is not None
    assert tagger_module._spacy_source(object()) is None  # no folder to load it from (an hf: or gliner: model)
    assert not started


def test_the_childs_share_ends_it_with_this_process() -> None:
    assert parse_child_share(1_000) == 0.0  # a few texts: the child's start would not pay
    seconds = 30.0
    characters = int(seconds * tagger_module.PARSE_CHARS_PER_SECOND)
    share = parse_child_share(characters)
    assert 0.2 < share < 0.5
    # this process parses (1 - share); the child starts, then parses its share: both take as long
    assert (1 - share) * seconds == pytest.approx(tagger_module.PARSE_CHILD_START + share * seconds, rel=1e-3)
    # a forked child starts at once; this process loads the name lists first
    forked = parse_child_share(characters, 0.1, 0.7)
    assert forked > 0.5 > share
    assert 0.7 + (1 - forked) * seconds == pytest.approx(0.1 + forked * seconds, rel=1e-3)
