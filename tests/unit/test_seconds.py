"""`seconds` counts editing time: the time up to each change of a visit, each pause capped;
browsing (a visit without a change, the time after its last change) adds nothing."""

from __future__ import annotations

import pytest

from curate.editing import IDLE_GAP_SECONDS, EditSession, fresh_record, set_status, toggle_truncated
from curate.text import TextModel

TEXT = "Kim met Putin in Pyongyang.\nPhoto: AP"


@pytest.fixture
def session() -> EditSession:
    record = fresh_record("s-1", "ana", TEXT).model_copy(update={"status": "done", "seconds": 12.0})
    return EditSession(record, TextModel(TEXT), "journal")


def test_a_visit_without_a_change_adds_nothing(session):
    session.activity(100.0)  # opened
    session.activity(120.0)  # moved the cursor
    session.activity(140.0)
    session.leave(145.0)
    assert session.seconds == 12.0
    assert session.record_to_save(150.0, change=False).seconds == 12.0  # a retry adds no time either


def test_time_up_to_each_change_counts_and_the_time_after_the_last_does_not(session):
    session.activity(100.0)  # opened: reading before the first change is editing time
    session.activity(110.0)
    session.do(toggle_truncated(session.record, 0))
    assert session.record_to_save(115.0).seconds == 12.0 + 15.0
    session.activity(115.0 + 1_000)  # a pause longer than the cap counts as the cap
    session.do(toggle_truncated(session.record, 0))
    assert session.record_to_save(115.0 + 1_002).seconds == 12.0 + 15.0 + IDLE_GAP_SECONDS + 2.0
    session.activity(1_200.0)  # looking around after the last change, then leaving
    session.leave(1_240.0)
    assert session.seconds == 12.0 + 15.0 + IDLE_GAP_SECONDS + 2.0


def test_a_new_visit_starts_its_own_clock(session):
    session.activity(100.0)
    session.leave(140.0)  # browsed 40 s: dropped
    session.activity(500.0)  # came back
    session.do(set_status(session.record, "flagged", "why"))
    assert session.record_to_save(504.0).seconds == 12.0 + 4.0
