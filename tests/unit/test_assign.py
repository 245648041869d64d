"""The pure assignment of `curate assign` (curate.assign.share_out) and assignments.jsonl."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.assign import AssignError, share_out
from curate.store import StoreError, read_assignment, write_assignment

TEAM = ["ana", "ben", "cy", "dee"]


def ids(count: int, start: int = 0) -> list[str]:
    return [f"s{number}" for number in range(start, start + count)]


def spread(loads: dict[str, int]) -> int:
    return max(loads.values()) - min(loads.values())


@settings(max_examples=60, deadline=None)
@given(snippets=st.integers(0, 60), size=st.integers(1, 5), data=st.data())
def test_loads_are_balanced_within_one_and_each_snippet_has_overlap_distinct_annotators(snippets, size, data):
    team = [f"p{number}" for number in range(size)]
    overlap = data.draw(st.integers(1, size))
    seed = data.draw(st.integers(0, 5))
    result = share_out(ids(snippets), team, overlap, seed=seed)
    assert spread(result.loads()) <= 1
    assert list(result.snippets) == ids(snippets)
    for names in result.snippets.values():
        assert len(names) == overlap == len(set(names))
        assert set(names) <= set(team)


@settings(max_examples=40, deadline=None)
@given(snippets=st.integers(0, 60), size=st.integers(1, 5), fraction=st.floats(0, 1), data=st.data())
def test_loads_stay_within_one_when_agreement_snippets_go_to_more_annotators(snippets, size, fraction, data):
    team = [f"p{number}" for number in range(size)]
    overlap, k = data.draw(st.integers(1, size)), data.draw(st.integers(1, size))
    result = share_out(ids(snippets), team, overlap, iaa_fraction=fraction, iaa_overlap=k)
    assert spread(result.loads()) <= 1
    sizes = [len(names) for names in result.snippets.values()]
    if k != overlap:
        assert sizes.count(k) == round(fraction * snippets)


def test_the_same_inputs_give_the_same_assignment_and_another_seed_another():
    first = share_out(ids(50), TEAM, 2, seed=7)
    assert share_out(ids(50), TEAM, 2, seed=7).snippets == first.snippets
    assert share_out(ids(50), TEAM, 2, seed=8).snippets != first.snippets


def test_adding_snippets_keeps_old_assignments_and_spreads_the_new_ones():
    old = share_out(ids(21), TEAM, 2, seed=1)
    grown = share_out(ids(41), TEAM, 2, seed=1, previous=old)
    assert {key: grown.snippets[key] for key in old.snippets} == old.snippets
    assert spread(grown.loads()) <= 1


def test_adding_an_annotator_keeps_old_assignments_and_gives_the_newcomer_new_work():
    old = share_out(ids(30), TEAM[:3], 2, seed=3)
    grown = share_out(ids(60), TEAM, 2, seed=3, previous=old)
    assert {key: grown.snippets[key] for key in old.snippets} == old.snippets
    assert grown.team == TEAM
    loads = grown.loads()
    assert loads["dee"] > 0 and spread(loads) <= 1  # 60 new slots level 3 x 20 + 0 to 30 each


def test_dropping_a_member_who_has_work_is_refused():
    old = share_out(ids(10), TEAM[:3], 2)
    with pytest.raises(AssignError, match="ana"):
        share_out(ids(10), TEAM[1:3], 2, previous=old)


def test_iaa_fraction_gives_the_exact_count_to_k_annotators():
    result = share_out(ids(40), TEAM, 1, iaa_fraction=0.25, iaa_overlap=3, seed=2)
    sizes = [len(names) for names in result.snippets.values()]
    assert sizes.count(3) == 10 and sizes.count(1) == 30
    assert spread(result.loads()) <= 1
    grown = share_out(ids(80), TEAM, 1, iaa_fraction=0.25, iaa_overlap=3, seed=2, previous=result)
    assert [len(names) for names in grown.snippets.values()].count(3) == 20


@pytest.mark.parametrize(
    ("team", "overlap", "fraction", "k", "message"),
    [
        ([], 1, 0.0, None, "at least one"),
        (["ana", "ben"], 3, 0.0, None, "team's size"),
        (["ana", "b/d"], 1, 0.0, None, "not allowed"),
        (["ana", "ana"], 1, 0.0, None, "twice"),
        (["ana", "ben"], 1, 0.5, None, "--iaa-overlap"),
        (["ana", "ben"], 1, 0.5, 3, "team's size"),
        (["ana", "ben"], 1, 1.5, 2, "fraction"),
    ],
)
def test_bad_teams_are_refused(team, overlap, fraction, k, message):
    with pytest.raises(AssignError, match=message):
        share_out(ids(5), team, overlap, iaa_fraction=fraction, iaa_overlap=k)


def test_the_file_round_trips_and_a_damaged_line_is_named(tmp_path):
    assert read_assignment(tmp_path) is None
    result = share_out(ids(6), TEAM, 2, iaa_fraction=0.5, iaa_overlap=3, seed=4)
    write_assignment(tmp_path, result)
    assert read_assignment(tmp_path) == result
    path = tmp_path / "assignments.jsonl"
    lines = path.read_text().splitlines()
    lines[3] = '{"id": "s2", "annotators": ["zed"]}'
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(StoreError, match=r"assignments\.jsonl:4: 'zed' not in the team"):
        read_assignment(tmp_path)
    path.write_text("{not json\n")
    with pytest.raises(StoreError, match=r"assignments\.jsonl:1: not a JSON line"):
        read_assignment(tmp_path)
