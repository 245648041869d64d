"""Uncertainty scores (curate.suggest.uncertainty): the pure parts, the recorded CRF marginals,
the scores file, and `curate suggest` writing them (with faults at the write)."""

from __future__ import annotations

import errno
import json
import math
import os

import numpy as np
import pytest

from curate.model import Entity
from curate.suggest.uncertainty import (
    ScoreFile,
    _RecordingCrf,
    combined,
    marginal_uncertainty,
    name_like,
    output_uncertainty,
    read_scores,
    start_uncertainty,
)
from curate.text import TextModel


def test_marginal_uncertainty_is_the_expected_number_of_wrong_candidates() -> None:
    assert marginal_uncertainty([0.9, 0.5, 0.0], [True, True, False]) == pytest.approx(0.1 + 0.5)
    assert marginal_uncertainty([0.2], [False]) == 0.0


def test_start_uncertainty_is_the_expected_number_of_wrong_decisions_after_the_first_unit() -> None:
    assert start_uncertainty([0.5, 0.0, 1.0]) == 0.0  # the first unit always starts a story
    assert start_uncertainty([0.0, 0.5]) == pytest.approx(0.5)
    assert start_uncertainty([0.0, 0.1, 0.8]) == pytest.approx(0.1 + 0.2)
    assert start_uncertainty([0.3]) == 0.0


def test_combined_is_the_sum_of_the_parts_present() -> None:
    assert combined([0.2, None]) == pytest.approx(0.2)
    assert combined([0.2, 0.4]) == pytest.approx(0.6)
    assert combined([None, None]) == 0.0


def test_name_like_tokens() -> None:
    text = "the Acme group and bob"
    model = TextModel(text)
    assert name_like(text, model.tokens, [Entity(start=19, end=22, label="PER")]) == [False, True, False, False, True]


def test_output_uncertainty_counts_what_the_output_disagrees_with_itself_on() -> None:
    text = "Smith met Jones. Later smith and Acme met Acme."
    model = TextModel(text)
    smith, jones, acme1, acme2 = (Entity(start=0, end=5, label="PER"), Entity(start=10, end=15, label="PER"), Entity(start=33, end=37, label="ORG"), Entity(start=42, end=46, label="LOC"))
    # name-like: Smith, Jones, Later (sentence start, no doubt), Acme, Acme; "smith" is lower case
    # doubtful: both Acme (two labels for one string)
    assert output_uncertainty(model, [smith, jones, acme1, acme2]) == 2
    # Jones left out inside a sentence: doubtful as well
    assert output_uncertainty(model, [smith, acme1, acme2]) == 3
    assert output_uncertainty(TextModel("all lower case"), []) == 0.0


def test_recorded_marginals_are_crfsuites(tmp_path) -> None:
    import pycrfsuite

    trainer = pycrfsuite.Trainer(verbose=False)
    for words, tags in ((["Bob", "ran"], ["B", "O"]), (["it", "Bob"], ["O", "B"]), (["x", "y"], ["O", "O"])):
        trainer.append([{f"w={word}": 1.0, "cap": float(word[0].isupper())} for word in words], tags)
    trainer.train(str(tmp_path / "m.crfsuite"))
    crf = pycrfsuite.Tagger()
    crf.open(str(tmp_path / "m.crfsuite"))
    recording = _RecordingCrf(crf)
    features = [{"w=Bob": 1.0, "cap": 1.0}, {"w=zz": 1.0, "cap": 0.0}, {"w=Qq": 1.0, "cap": 1.0}]
    tags = recording.tag(features)
    reference = pycrfsuite.Tagger()
    reference.open(str(tmp_path / "m.crfsuite"))
    reference.set(features)
    assert recording.seen == [[pytest.approx(reference.marginal(tag, index), abs=1e-12) for index, tag in enumerate(tags)]]
    assert all(0.0 < value <= 1.0 for value in recording.seen[0])
    assert recording.labels() == crf.labels()  # everything else passes through


def test_score_file_round_trip(tmp_path) -> None:
    path = tmp_path / "u.npz"
    scores = ScoreFile(path, 3)
    scores.set(0, 0.25, "model:a")
    scores.set(2, 0.5, "model:b")
    scores.set(2, 0.75, "model:a")  # b scores nothing any more: left out of the file
    scores.save()
    again = ScoreFile.read(path, 4)  # the corpus grew by one snippet
    assert again.annotators == ["model:a"]
    assert again.scored_by(0, "model:a") and again.scored_by(2, "model:a")
    assert not again.scored_by(1, "model:a") and not again.scored_by(3, "model:a") and not again.scored_by(0, "model:b")
    assert again.scores[[0, 2]].tolist() == [0.25, 0.75] and np.isnan(again.scores[[1, 3]]).all()
    path.write_bytes(b"not an npz")
    assert np.isnan(ScoreFile.read(path, 2).scores).all()  # derived data: a damaged file counts as none


def make_corpus(tmp_path, count: int = 5):
    tmp_path.mkdir(parents=True, exist_ok=True)
    from curate.ingest import ingest

    rows = [{"id": f"s{index}", "text": f"Story {index} begins.\n\nLONDON 1996-08-2{index} - Acme Corp said {index}.\n\nA third line {index}."} for index in range(count)]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    ingest([source], tmp_path / "c", labels=["ORG"])
    return tmp_path / "c"


def suggest(directory, **options):
    from curate.store import Corpus
    from curate.suggest.service import SuggestOptions, run_suggest

    with Corpus.open(directory) as corpus:
        report = run_suggest(corpus, SuggestOptions(entities="none", **options))
        return report, read_scores(corpus)


def test_suggest_scores_every_snippet_and_rescores_only_what_lacks_a_score(tmp_path) -> None:
    directory = make_corpus(tmp_path)
    report, scores = suggest(directory)
    assert report.written == 5 and not np.isnan(scores).any() and (scores >= 0).all() and scores.max() > 0
    report, again = suggest(directory)
    assert report.written == 0 and np.array_equal(scores, again)
    # a score lost (a run killed between two saves): that snippet alone is suggested again
    from curate.store import CorpusLayout

    path = CorpusLayout(directory).uncertainty_scores
    held = ScoreFile.read(path, 5)
    held.scores[3] = np.nan
    held.changed = True
    held.save()
    report, healed = suggest(directory)
    assert report.written == 1 and np.array_equal(healed, scores)
    # no scores file at all (a fresh clone, a deleted .curate/): the suggestions stay, unscored,
    # until a --redo scores them
    path.unlink()
    report, kept = suggest(directory)
    assert report.written == 0 and np.isnan(kept).all()
    report, rebuilt = suggest(directory, redo=True)
    assert report.written == 5 and np.array_equal(rebuilt, scores)


@pytest.mark.parametrize("call", ["fsync", "replace"])
def test_a_failed_scores_write_keeps_the_suggestions_and_the_old_file(tmp_path, monkeypatch, call) -> None:
    """A fault while writing .curate/uncertainty.npz: the run fails with the OSError, every
    suggestion appended stays, the old scores file is whole and no temporary file is left; the
    next run scores what was missing."""
    directory = make_corpus(tmp_path, 3)
    suggest(directory)
    from curate.store import CorpusLayout

    path = CorpusLayout(directory).uncertainty_scores
    before = path.read_bytes()
    # a fourth snippet, suggested under a fault
    from curate.ingest import ingest

    extra = tmp_path / "more.jsonl"
    extra.write_text(json.dumps({"id": "s9", "text": "One more story.\n\nIt ends here."}) + "\n")
    ingest([extra], directory)
    real = getattr(os, call)

    def failing(*args, **kwargs):
        names = [os.fsdecode(arg) for arg in args if isinstance(arg, (str, bytes, os.PathLike))]
        if call == "fsync":
            names = [os.readlink(f"/proc/self/fd/{args[0]}")]
        if any("uncertainty.npz" in name for name in names):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(*args, **kwargs)

    monkeypatch.setattr(os, call, failing)
    with pytest.raises(OSError):
        suggest(directory)
    monkeypatch.setattr(os, call, real)
    assert path.read_bytes() == before
    assert [item.name for item in path.parent.iterdir() if item.name.endswith(".tmp")] == []
    lines = CorpusLayout(directory).suggestions.read_text().splitlines()
    assert json.loads(lines[-1])["snippet_id"] == "s9"  # the suggestion itself was saved
    report, scores = suggest(directory)
    assert report.written == 1 and not np.isnan(scores).any() and not math.isnan(float(scores[3]))


def test_worker_processes_score_as_one_process_does(tmp_path) -> None:
    single = make_corpus(tmp_path / "one", 6)
    parallel = make_corpus(tmp_path / "two", 6)
    _, alone = suggest(single)
    report, together = suggest(parallel, n_process=2, batch_size=2)
    assert report.written == 6 and np.array_equal(alone, together)


def test_the_learned_taggers_marginals_are_recorded_for_every_text(tmp_path) -> None:
    """suggest_scored over a real EntityTagger (fitted here on two texts, no pipeline needed):
    each text with tokens gets the chosen tags' marginals, and the score is their doubt summed."""
    from types import SimpleNamespace

    from curate.suggest.boundaries import HandSetScorer
    from curate.suggest.gazetteer import Gazetteer
    from curate.suggest.propose import propose_annotation
    from curate.suggest.tagger import EntityTagger, fit_tagger
    from curate.suggest.uncertainty import suggest_scored

    texts = ["Acme Corp hired Ann Lee in Paris.", "Ann Lee left Acme Corp for Rome.", "Rome and Paris met Ann Lee."]
    gold = [[(0, 9, "ORG"), (16, 23, "PER"), (27, 32, "LOC")], [(0, 7, "PER"), (13, 22, "ORG"), (27, 31, "LOC")], [(0, 4, "LOC"), (9, 14, "LOC"), (19, 26, "PER")]]
    examples = [(text, [Entity(start=a, end=b, label=label) for a, b, label in spans]) for text, spans in zip(texts, gold)]
    fit_tagger(examples, [[] for _ in texts], tmp_path / "entities.crfsuite")
    tagger = EntityTagger(tmp_path / "entities.crfsuite", Gazetteer(), {}, ["PER", "ORG", "LOC"])

    class Fake:
        spec = SimpleNamespace(model="fake", find_boundaries=True)
        gazetteer = Gazetteer()
        scorer = HandSetScorer()

        def __init__(self) -> None:
            self.tagger = tagger

        def suggest(self, batch):
            models = [TextModel(text) for _, text in batch]
            found = self.tagger.tag(models, [[] for _ in models])
            return [propose_annotation(snippet_id, model, entities, annotator="model:t", scorer=self.scorer) for (snippet_id, _), model, entities in zip(batch, models, found)]

    fake = Fake()
    batch = [("a", "Bob Stone visited Acme Corp."), ("b", "   "), ("c", "Ann Lee")]
    records, scores = suggest_scored(fake, batch)
    assert fake.tagger.crf is tagger.crf and type(tagger.crf).__name__ == "Tagger"  # unwrapped again
    assert len(records) == 3 and len(scores) == 3 and scores[1] == 0.0
    assert all(score > 0 for score in (scores[0], scores[2]))  # a model fitted on three texts is unsure of new names


@pytest.mark.parametrize(
    "damage",
    ["truncated", "strings", "two-dimensional", "missing key"],
)
def test_a_damaged_score_file_counts_as_none_and_says_why(tmp_path, damage) -> None:
    path = tmp_path / "u.npz"
    good = ScoreFile(path, 3)
    good.set(0, 0.25, "model:a")
    good.save()
    if damage == "truncated":  # a zip cut short: numpy raised BadZipFile, which escaped as a traceback
        path.write_bytes(path.read_bytes()[:100])
    elif damage == "strings":
        np.savez(path, scores=np.array(["a", "b", "c"]), annotator_of=np.zeros(3, dtype=np.int32), annotators=np.array(["model:a"]))
    elif damage == "two-dimensional":
        np.savez(path, scores=np.zeros((3, 2)), annotator_of=np.zeros(3, dtype=np.int32), annotators=np.array(["model:a"]))
    else:
        np.savez(path, scores=np.zeros(3))
    found = ScoreFile.read(path, 3)
    assert np.isnan(found.scores).all() and (found.annotator_of == -1).all()
    assert found.problem is not None and found.problem.startswith(f"{path}: unreadable (")
    assert ScoreFile.read(tmp_path / "none.npz", 3).problem is None  # no file is no problem
