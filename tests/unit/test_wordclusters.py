"""Word clusters learned from a corpus's text (scripts/wordclusters.py, measured by bench_suggest's cv part)."""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2] / "scripts"))

from wordclusters import WordClusters, learn_clusters, normal, tagger_with_clusters  # noqa: E402

from curate.suggest import tagger  # noqa: E402
from curate.text import TextModel  # noqa: E402

TEAMS = ["Lazio", "Sampdoria", "Parma", "Udinese", "Juventus", "Fiorentina"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
PEOPLE = ["Smith", "Jones", "Brown", "Taylor", "Wilson", "Evans"]


def texts(seed: int = 0) -> list[str]:
    """Results rows (a team, a score, a team), dated sentences, and sentences where a person said something."""
    pick = random.Random(seed).choice
    result = []
    for _ in range(40):
        lines = [
            f"{pick(TEAMS)} {pick('0123')} {pick(TEAMS)} {pick('0123')}",
            f"The match was played on {pick(DAYS)} in the rain .",
            f"Coach {pick(PEOPLE)} said the team would recover .",
        ]
        result.append("\n".join(lines))
    return result


def test_words_used_alike_share_a_cluster_and_others_do_not() -> None:
    clusters = learn_clusters(texts(), sizes=(6, 12))
    coarse = {word: clusters[normal(word)][0] for word in TEAMS + DAYS + PEOPLE}
    for group in (TEAMS, DAYS, PEOPLE):
        assert len({coarse[word] for word in group}) == 1, group
    assert len({coarse[TEAMS[0]], coarse[DAYS[0]], coarse[PEOPLE[0]]}) == 3


def test_clusters_are_the_same_for_the_same_texts_and_numbers_read_as_zeros() -> None:
    assert learn_clusters(texts(), sizes=(4,)) == learn_clusters(texts(), sizes=(4,))
    assert normal("Lazio") == "lazio" and normal("3-1") == "0-0"


def test_too_little_text_gives_no_clusters() -> None:
    assert learn_clusters([""]) == {} and learn_clusters(["word"]) == {}


def test_features_name_a_cluster_per_size_and_mark_unknown_words() -> None:
    clusters = WordClusters({"lazio": [1, 7]})
    assert clusters.features("LAZIO") == ("cl0=1", "cl1=7")
    assert clusters.features("Gibberish") == ("cl=none",)


def test_the_tagger_hook_adds_cluster_features_to_a_token_and_its_neighbours_and_goes_away() -> None:
    model = TextModel("Lazio beat Parma")
    before = tagger.token_features(model, ["O"] * 3, ["O"] * 3, {})
    with tagger_with_clusters(WordClusters({"lazio": [1, 7], "parma": [1, 5]})):
        inside = tagger.token_features(model, ["O"] * 3, ["O"] * 3, {})
    assert {name for name in inside[0] if "cl" in name} == {"cl0=1", "cl1=7", "1:cl=none"}
    assert {name for name in inside[1] if "cl" in name} == {"cl=none", "-1:cl0=1", "-1:cl1=7", "1:cl0=1", "1:cl1=5"}
    assert all(set(features) - set(extra) for features, extra in zip(inside, before))
    assert tagger.token_features(model, ["O"] * 3, ["O"] * 3, {}) == before  # the hook is gone
