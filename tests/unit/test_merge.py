"""The three-way merges of `curate sync` (curate/store/merge.py): journals by line, gold per snippet."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from curate.store import MergeRefused, journal_lines, merge_gold, merge_journal


def line(snippet_id: str, at: str, note: str = "", annotator: str = "ana") -> bytes:
    record = {"snippet_id": snippet_id, "annotator": annotator, "stories": [{"start": 0, "end": 5}], "status": "done", "note": note or None, "updated_at": at}
    return (json.dumps(record, separators=(",", ":")) + "\n").encode()


def at(second: int) -> str:
    return f"2026-12-07T10:{second // 60:02d}:{second % 60:02d}Z"


def last_per_snippet(data: bytes) -> dict[str, bytes]:
    return {json.loads(item)["snippet_id"]: item for item in journal_lines(data)}


def test_union_keeps_base_then_both_sides_new_lines_each_once():
    base = line("a", at(1)) + line("b", at(2))
    ours = base + line("c", at(10), "ours") + line("d", at(30), "shared")
    theirs = base + line("d", at(30), "shared") + line("e", at(20), "theirs")
    merged = merge_journal(base, ours, theirs)
    assert journal_lines(merged) == [line("a", at(1)), line("b", at(2)), line("c", at(10), "ours"), line("e", at(20), "theirs"), line("d", at(30), "shared")]
    assert max(Counter(journal_lines(merged)).values()) == 1


def test_a_snippet_saved_on_both_machines_ends_with_the_later_save():
    base = line("a", at(1))
    ours = base + line("a", at(50), "ours, later")
    theirs = base + line("a", at(40), "theirs, earlier")
    assert last_per_snippet(merge_journal(base, ours, theirs))["a"] == line("a", at(50), "ours, later")
    assert last_per_snippet(merge_journal(base, theirs, ours))["a"] == line("a", at(50), "ours, later")


def test_each_side_keeps_its_own_order_even_when_its_clock_went_back():
    ours = line("a", at(30), "first") + line("a", at(10), "second (clock stepped back)")
    merged = journal_lines(merge_journal(None, ours, line("b", at(20))))
    assert merged.index(line("a", at(30), "first")) < merged.index(line("a", at(10), "second (clock stepped back)"))


def test_new_journal_on_one_side_and_missing_files():
    theirs = line("a", at(1)) + line("b", at(2))
    assert merge_journal(None, None, theirs) == theirs
    assert merge_journal(None, theirs, None) == theirs
    assert merge_journal(None, None, None) == b""


def test_a_torn_last_line_is_dropped_and_a_whole_one_gets_its_newline():
    base = line("a", at(1))
    torn = base + line("b", at(2))[:20]
    whole = base + line("c", at(3)).rstrip(b"\n")
    assert journal_lines(merge_journal(base, torn, whole)) == [line("a", at(1)), line("c", at(3))]


def test_a_compaction_on_our_side_stays_and_loses_no_last_record():
    base = line("a", at(1), "old") + line("b", at(2)) + line("a", at(3), "new")
    ours = line("a", at(3), "new") + line("b", at(2))  # compacted: superseded line dropped, corpus order
    theirs = base + line("c", at(9))
    merged = merge_journal(base, ours, theirs)
    assert line("a", at(1), "old") not in journal_lines(merged)
    assert last_per_snippet(merged) == {"a": line("a", at(3), "new"), "b": line("b", at(2)), "c": line("c", at(9))}


def test_merging_twice_adds_nothing():
    base = line("a", at(1))
    ours = base + line("b", at(5))
    theirs = base + line("c", at(4))
    once = merge_journal(base, ours, theirs)
    assert merge_journal(base, once, theirs) == once
    assert merge_journal(theirs, once, theirs) == once


def records(first: int, last: int):
    return st.lists(st.tuples(st.sampled_from("abcd"), st.integers(first, last), st.sampled_from(["", "x", "y"])), max_size=8)


@settings(max_examples=150, deadline=None)
@given(base=records(0, 200), ours=records(150, 400), theirs=records(150, 400))
def test_union_loses_no_line_doubles_none_and_does_not_depend_on_the_side(base, ours, theirs):
    def journal(items):
        return b"".join(line(s, at(t), n) for s, t, n in items)

    # Each machine saves in time order (the journal is appended as the editor works), mostly after the base.
    # Two different saves in the same second are told apart by their bytes only; the properties
    # below are about saves at different times (a record saved once and found on both sides is one save).
    times: dict[int, tuple] = {}
    for item in [*ours, *theirs]:
        assume(times.setdefault(item[1], item) == item)
    ours, theirs = (sorted(side, key=lambda item: item[1]) for side in (ours, theirs))
    base_lines = journal(base)
    ours_data = base_lines + journal(ours)
    theirs_data = base_lines + journal(theirs)
    merged = journal_lines(merge_journal(base_lines, ours_data, theirs_data))
    ends = last_per_snippet(b"".join(merged))
    for snippet_id in ends:  # a snippet saved anew on either side ends with the later of the sides' new saves
        candidates = [last_per_snippet(journal(side))[snippet_id] for side in (ours, theirs) if snippet_id in last_per_snippet(journal(side))]
        if candidates and not {item for item in candidates} & set(journal_lines(base_lines)):
            assert ends[snippet_id] == max(candidates, key=lambda item: (json.loads(item)["updated_at"], item))
    assert set(merged) == set(journal_lines(ours_data)) | set(journal_lines(theirs_data))
    new_lines = [item for item in merged if item not in set(journal_lines(base_lines))]
    assert len(new_lines) == len(set(new_lines))
    assert merged[: len(journal_lines(base_lines))] == journal_lines(base_lines)
    if not (set(ours) | set(theirs)) & set(base):  # a line saved again alike is kept where each side has it
        assert merge_journal(base_lines, theirs_data, ours_data) == merge_journal(base_lines, ours_data, theirs_data)


# ---------------------------------------------------------------- gold


def gold(snippet_id: str, at_: str, adjudicator: str = "cy") -> bytes:
    return line(snippet_id, at_, annotator=adjudicator)


def test_gold_keeps_the_later_accept_of_a_snippet_both_sides_accepted():
    base = gold("s1", at(1)) + gold("s2", at(1))
    ours = gold("s1", at(30), "ana") + gold("s2", at(1))
    theirs = gold("s1", at(20), "ben") + gold("s2", at(40), "ben") + gold("s3", at(5), "ben")
    merged = journal_lines(merge_gold(base, ours, theirs))
    assert merged == [gold("s1", at(30), "ana"), gold("s2", at(40), "ben"), gold("s3", at(5), "ben")]
    assert merge_gold(base, theirs, ours) == merge_gold(base, ours, theirs)


def test_gold_takes_one_sided_removals_and_keeps_an_accept_over_a_removal():
    base = gold("s1", at(1)) + gold("s2", at(1))
    ours = gold("s2", at(1))  # s1 removed here
    theirs = gold("s1", at(1)) + gold("s2", at(9), "ben")
    assert journal_lines(merge_gold(base, ours, theirs)) == [gold("s2", at(9), "ben")]
    theirs_again = gold("s1", at(50), "ben") + gold("s2", at(1))  # accepted again on the other side
    assert journal_lines(merge_gold(base, ours, theirs_again)) == [gold("s1", at(50), "ben"), gold("s2", at(1))]


def test_gold_places_new_snippets_of_theirs_after_their_predecessor():
    ours = gold("s1", at(1)) + gold("s4", at(1))
    theirs = gold("s0", at(2)) + gold("s2", at(2)) + gold("s3", at(2)) + gold("s4", at(1))
    ids = [json.loads(item)["snippet_id"] for item in journal_lines(merge_gold(None, ours, theirs))]
    assert ids == ["s0", "s2", "s3", "s1", "s4"]


def test_a_damaged_gold_line_refuses_the_merge_naming_it():
    with pytest.raises(MergeRefused, match=r"gold.jsonl:2 \(remote\): not a gold record"):
        merge_gold(None, gold("s1", at(1)), gold("s1", at(2)) + b"{not json\n")


def test_a_note_quoting_a_later_time_does_not_move_its_record():
    sneaky = line("a", at(1), note='"updated_at":"2099-01-01T00:00:00Z"')
    assert b'\\"updated_at\\":\\"2099' in sneaky  # escaped inside the note
    later = line("a", at(5), "theirs")
    assert journal_lines(merge_journal(None, sneaky, later)) == [sneaky, later]
    assert journal_lines(merge_journal(None, later, sneaky)) == [sneaky, later]


def test_the_git_merge_driver_writes_the_merge_over_ours_or_refuses_leaving_it(tmp_path, capsys):
    from curate.merge_driver import main

    base, ours, theirs = (tmp_path / name for name in ("base", "ours", "theirs"))
    base.write_bytes(line("a", at(1)))
    ours.write_bytes(line("a", at(1)) + line("b", at(2)))
    theirs.write_bytes(line("a", at(1)) + line("c", at(3)))
    assert main(["journal", str(base), str(ours), str(theirs), "annotations/ana.jsonl"]) == 0
    assert journal_lines(ours.read_bytes()) == [line("a", at(1)), line("b", at(2)), line("c", at(3))]
    theirs.write_bytes(b"<<<<<<< not gold\n")
    before = ours.read_bytes()
    assert main(["gold", str(base), str(ours), str(theirs), "gold.jsonl"]) == 1
    assert ours.read_bytes() == before and "gold.jsonl:1 (remote): not a gold record" in capsys.readouterr().err
    assert main(["both", "x"]) == 2
    capsys.readouterr()
    assert main(["journal", str(tmp_path / "gone"), str(ours), str(theirs), "annotations/ana.jsonl"]) == 1
    assert capsys.readouterr().err == "curate: annotations/ana.jsonl: no such file or directory\n"  # the store's wording, one line
    assert sorted(path.name for path in tmp_path.iterdir()) == ["base", "ours", "theirs"]  # no temporary file left
