"""The streamed reads and writes of `curate sync` (curate/sync.py): a journal's consistent
length found from its end, prefixes and blobs streamed to and from git."""

from __future__ import annotations

import subprocess

import pytest
from git_env import GIT, without_git_configuration
from hypothesis import given, settings
from hypothesis import strategies as st

from curate import sync as sync_module
from curate.sync import Git, SyncError, consistent_length

pytestmark = pytest.mark.skipif(GIT is None, reason="curate sync needs the git command")


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=40).map(lambda raw: raw.replace(b"a", b"\n")), chunk=st.sampled_from([1, 3, 1 << 20]))
def test_the_consistent_length_is_up_to_the_last_newline(tmp_path_factory, data, chunk):
    path = tmp_path_factory.mktemp("journal") / "ana.jsonl"
    path.write_bytes(data)
    saved = sync_module._CHUNK
    sync_module._CHUNK = chunk  # a newline found in an earlier chunk read backwards
    try:
        assert consistent_length(path) == data.rfind(b"\n") + 1
    finally:
        sync_module._CHUNK = saved


@pytest.fixture
def repository(tmp_path, monkeypatch):
    without_git_configuration(tmp_path, monkeypatch)
    folder = tmp_path / "repo"
    folder.mkdir()
    subprocess.run([GIT, "init", "-q"], cwd=folder, check=True)
    return Git(folder)


def test_a_prefix_and_a_blob_stream_through_git_as_their_bytes(repository, tmp_path):
    data = b"".join(b'{"n":%d}\r\n' % number for number in range(300_000)) + b'{"torn'  # over 2 MiB, CRLF kept
    path = tmp_path / "journal"
    path.write_bytes(data)
    length = data.rfind(b"\n") + 1
    sha = repository.hash_file(path, length)
    assert sha == repository.hash_object(data[:length])  # git stores the same blob as from memory
    assert repository.hash_file(path, length, write=False) == sha
    assert b"".join(repository.blob_chunks(sha)) == data[:length]
    repository.blob_to_file(sha, tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == data[:length]
    assert repository.blob_sizes([sha]) == {sha: length}


def test_a_blob_git_cannot_give_stops_with_a_one_line_error(repository, tmp_path):
    missing = "1" * 40
    with pytest.raises(SyncError, match="git cat-file failed") as raised:
        b"".join(repository.blob_chunks(missing))
    assert len(str(raised.value).splitlines()) == 1
    with pytest.raises(SyncError, match="git cat-file failed"):
        repository.blob_to_file(missing, tmp_path / "out")


def test_a_git_that_stops_reading_a_streamed_file_stops_with_a_one_line_error(tmp_path, monkeypatch):
    without_git_configuration(tmp_path, monkeypatch)
    outside = tmp_path / "not-a-repository"
    outside.mkdir()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    big = tmp_path / "journal"
    big.write_bytes(b'{"n":1}\n' * 1_000_000)  # more than a pipe holds: git exits before reading it
    with pytest.raises(SyncError, match="git hash-object failed") as raised:
        Git(outside).hash_file(big)
    assert len(str(raised.value).splitlines()) == 1
