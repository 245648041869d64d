"""Review of the streamed merges (store.merge, the git merge driver): hostile sides are refused
or merged by the rules of the in-memory merges, never with a traceback."""

import json

import pytest

from curate import merge_driver
from curate.store import MergeRefused
from curate.store.merge import merge_gold, merge_journal

BASE = b'{"snippet_id":"s1","annotator":"ana","updated_at":"2026-01-01T00:00:00Z"}\n'
LATER = b'{"snippet_id":"s1","annotator":"ana","updated_at":"2026-01-02T00:00:00Z"}'


# ---- lines nested too deeply for a JSON reader


DEEP = [b"[" * 100_000, b'{"a":' * 100_000]


@pytest.mark.parametrize("deep", DEEP, ids=["array", "object"])
def test_a_deeply_nested_gold_line_is_refused_by_name_not_a_traceback(deep):
    for sides in ((BASE, BASE + deep + b"\n", BASE), (BASE + deep + b"\n", BASE, LATER + b"\n")):
        with pytest.raises(MergeRefused, match=r"gold.jsonl:2 "):
            merge_gold(*sides)


@pytest.mark.parametrize("deep", DEEP, ids=["array", "object"])
def test_a_deeply_nested_journal_line_is_merged_as_a_line_and_dropped_as_a_torn_tail(deep):
    ours = BASE + LATER + b"\n"
    # a new line of theirs: kept (journal lines are not read); its unreadable stamp counts as ''
    merged = merge_journal(BASE, ours, BASE + deep + b"\n")
    assert merged == BASE + deep + b"\n" + LATER + b"\n"
    # an unterminated last line that is not a JSON object: a torn append, dropped
    assert merge_journal(BASE, ours, BASE + deep) == ours


@pytest.mark.parametrize("kind", ["journal", "gold"])
def test_the_merge_driver_answers_a_deeply_nested_side_with_a_message(tmp_path, kind, capsys):
    paths = []
    for name, data in (("base", BASE), ("ours", BASE + LATER + b"\n"), ("theirs", BASE + DEEP[0] + b"\n")):
        paths.append(tmp_path / name)
        paths[-1].write_bytes(data)
    status = merge_driver.main([kind, *map(str, paths), "gold.jsonl" if kind == "gold" else "annotations/ana.jsonl"])
    if kind == "gold":
        assert status == 1 and "gold.jsonl:2 (remote): not a gold record" in capsys.readouterr().err
        assert paths[1].read_bytes() == BASE + LATER + b"\n"  # ours left as it was
    else:
        assert status == 0
        assert json.loads(paths[1].read_bytes().splitlines()[-1]) == json.loads(LATER)


# ---- a tie between two accepts


@pytest.mark.parametrize("space", [b"\t", b" ", b"\r"])
def test_a_tie_between_two_accepts_goes_to_the_larger_line_as_the_in_memory_merge_compared_them(space):
    """Both sides accepted s1 anew at the same second: the larger line wins, lines compared with
    their newline (as the in-memory merge held them). Without it a line that ends in a tab (below
    the newline's byte) won as the longer line."""
    plain, spaced = LATER + b"\n", LATER + space + b"\n"
    expected = max(plain, spaced)
    assert merge_gold(BASE, plain, spaced) == expected
    assert merge_gold(BASE, spaced, plain) == expected


# ---- a side that changes while it is merged


def journal_record(snippet: str, second: int) -> bytes:
    value = {"snippet_id": snippet, "annotator": "ana", "status": "done", "updated_at": f"2026-12-07T10:00:{second:02d}Z"}
    return json.dumps(value, separators=(",", ":")).encode() + b"\n"


@pytest.mark.parametrize(("compacted", "kept"), [(False, -3), (True, -3), (False, 2)], ids=["appended", "compacted", "cut within base"])
def test_a_journal_side_that_shrinks_while_it_is_merged_stops_the_merge(tmp_path, monkeypatch, compacted, kept):
    """The merge reads a side twice (digests, then the lines it writes). A side that grew
    between the passes stops it with an OSError; one that shrank was written short, its
    missing lines silently left out of the merged journal."""
    import curate.store.merge as merge_module
    from curate.store.merge import merge_journal_chunks

    monkeypatch.setattr(merge_module, "_CHUNK", 1)  # a chunk a line: the merge is caught mid-way
    base_lines = [journal_record(f"s{number}", number) for number in range(6)]
    new = [journal_record(f"s{number}", 30 + number) for number in range(6)]
    ours_lines = (base_lines[::-1] if compacted else base_lines) + new
    paths = [tmp_path / name for name in ("base", "ours", "theirs")]
    for path, lines in zip(paths, (base_lines, ours_lines, base_lines + [journal_record("t", 20)])):
        path.write_bytes(b"".join(lines))
    merged = merge_journal_chunks(*paths)
    written = [next(merged)]
    paths[1].write_bytes(b"".join(ours_lines[:kept]))  # ours cut short meanwhile
    with pytest.raises(OSError, match="changed while it was merged"):
        written.extend(merged)
