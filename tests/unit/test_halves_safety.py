"""The forked half of a long pass (curate/store/halves.py) can never hang the pass: a child
stuck on a lock another thread held when it was forked (the desk opens in a Textual worker
thread) is given up and its half read by this process; a slow child that is working is waited
for; only Linux splits (fork is unavailable on Windows and unsafe on macOS)."""

import os
import threading
import time

import numpy as np
import pytest
from index_journals import fresh_state, make_corpus, many_lines, split_small_scans, write_journal

import curate.store.scan as scan
from curate.store import halves


@pytest.fixture
def corpus(tmp_path):
    return make_corpus(tmp_path)


@pytest.fixture
def split_small(monkeypatch):
    return split_small_scans(monkeypatch)


def gone(pid):
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


@pytest.fixture
def quick_stall(monkeypatch):
    monkeypatch.setattr(halves, "STALL_SECONDS", 0.5)


def held_by_another_thread():
    """A lock another thread holds at the moment of the fork (and releases later, in this process only)."""
    lock, taken, release = threading.Lock(), threading.Event(), threading.Event()

    def hold():
        with lock:
            taken.set()
            release.wait()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    taken.wait()
    return lock, release, thread


def test_a_child_stuck_on_a_lock_held_at_fork_time_is_given_up_and_reaped(quick_stall):
    lock, release, thread = held_by_another_thread()
    child = halves.fork_child(lambda: lock.acquire() and b"never")
    release.set()
    thread.join()
    began = time.monotonic()
    assert halves.child_result(*child) is None
    assert time.monotonic() - began < 10
    gone(child[0])


def test_a_slow_child_that_is_working_is_waited_for(quick_stall):
    def busy():
        stop = time.monotonic() + 1.5  # three stall periods of CPU work
        while time.monotonic() < stop:
            sum(range(1000))
        return b"done"

    child = halves.fork_child(busy)
    assert halves.child_result(*child) == b"done"
    gone(child[0])


def test_a_child_that_sends_part_and_stops_is_given_up(quick_stall):
    lock, release, thread = held_by_another_thread()

    def half_then_stuck():
        os.write(write_end[0], (100).to_bytes(8, "little") + b"x" * 10)  # after the pid: a size of 100, then 10 bytes
        lock.acquire()
        return b""

    write_end = []
    real_pipe = os.pipe

    def pipe():
        ends = real_pipe()
        write_end.append(ends[1])
        return ends

    halves.os.pipe = pipe
    try:
        child = halves.fork_child(half_then_stuck)
    finally:
        halves.os.pipe = real_pipe
    release.set()
    thread.join()
    assert halves.child_result(*child) is None
    gone(child[0])


def test_a_stuck_child_leaves_the_scan_to_this_process_with_the_same_index(corpus, split_small, quick_stall):
    write_journal(corpus, many_lines())
    split_small.setattr(halves, "SPLIT_BYTES", 1 << 40)
    one = fresh_state(corpus)
    split_small.setattr(halves, "SPLIT_BYTES", 600)
    lock, release, thread = held_by_another_thread()
    split_small.setattr(scan.LineScanner, "second_half", lambda self, reader, start: lock.acquire() and b"")
    children = []
    real_fork = halves.fork_child
    split_small.setattr(scan, "fork_child", lambda work: children.append(real_fork(work)) or children[-1])
    try:
        assert fresh_state(corpus) == one
    finally:
        release.set()
        thread.join()
    assert len(children) == 1
    gone(children[0][0])


def test_an_announced_size_too_large_to_hold_is_a_failed_child(quick_stall):
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write_end, os.getpid().to_bytes(8, "little") + (1 << 62).to_bytes(8, "little"))
        os._exit(0)
    os.close(write_end)
    assert halves.child_result(pid, read_end) is None
    gone(pid)


def test_the_result_does_not_wait_for_other_processes_holding_the_pipe(quick_stall, monkeypatch):
    """A process forked elsewhere while the child ran (a worker pool started by another thread)
    may hold the pipe's write end: the result is whole once the child has sent it and exited,
    without waiting for an end of file."""
    real_fork, holders = os.fork, []

    def fork_and_hold():
        pid = real_fork()
        if pid != 0:  # here, while the write end is still open: a second process inherits it
            holder = real_fork()
            if holder == 0:
                time.sleep(30)
                os._exit(0)
            holders.append(holder)
        return pid

    monkeypatch.setattr(os, "fork", fork_and_hold)
    child = halves.fork_child(lambda: halves.pack({"a": np.arange(3)}))
    monkeypatch.setattr(os, "fork", real_fork)
    try:
        began = time.monotonic()
        data = halves.child_result(*child)
        assert data is not None and halves.unpack(data)[0]["a"].tolist() == [0, 1, 2]
        assert time.monotonic() - began < 10
    finally:
        os.kill(holders[0], 9)
        os.waitpid(holders[0], 0)
    gone(child[0])


def test_a_fork_warning_raised_as_an_error_leaves_no_child_and_no_split(monkeypatch):
    """Python 3.12+ warns when a process running threads forks; under warnings-as-errors the
    warning is raised in this process after the child started, without its pid."""
    real_fork, children = os.fork, []

    def warning_fork():
        pid = real_fork()
        if pid == 0:
            return 0
        children.append(pid)
        raise DeprecationWarning("This process is multi-threaded, use of fork() may lead to deadlocks in the child.")

    monkeypatch.setattr(os, "fork", warning_fork)
    assert halves.fork_child(lambda: b"result") is None
    monkeypatch.setattr(os, "fork", real_fork)
    gone(children[0])


def test_a_child_reaped_by_something_else_is_a_failed_child_not_an_error():
    """Code elsewhere in the process (a SIGCHLD handler waiting for any child) may reap it first."""
    for work, wait in ((lambda: b"sent", True), (lambda: b"sent", False)):
        child = halves.fork_child(work)
        if wait:
            os.waitpid(child[0], 0)  # exited and reaped before its result is read
            assert halves.child_result(*child) is None
        else:
            os.kill(child[0], 9)
            os.waitpid(child[0], 0)
            halves.abandon_child(*child)
        gone(child[0])


def test_only_linux_splits(monkeypatch):
    monkeypatch.setattr(halves.os, "cpu_count", lambda: 2)
    assert halves.can_split(halves.SPLIT_BYTES)
    for platform in ("darwin", "win32"):
        monkeypatch.setattr(halves.sys, "platform", platform)
        assert not halves.can_split(halves.SPLIT_BYTES)


def test_the_store_imports_where_there_is_no_fcntl():
    """As on Windows: the module imports and nothing is split."""
    import subprocess
    import sys

    script = "import sys; sys.modules['fcntl'] = None\nfrom curate.store import Corpus, halves\nsys.platform = 'win32'\nassert not halves.can_split(1 << 40)\n"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_a_kernel_without_pidfds_does_not_split(monkeypatch):
    monkeypatch.setattr(halves.os, "cpu_count", lambda: 2)
    halves._pidfds_work.cache_clear()

    def refused(pid):
        raise PermissionError(1, "Operation not permitted")  # a container's seccomp filter

    monkeypatch.setattr(halves.os, "pidfd_open", refused)
    try:
        assert not halves.can_split(halves.SPLIT_BYTES)
    finally:
        halves._pidfds_work.cache_clear()


def test_a_child_result_of_the_wrong_shape_leaves_its_half_to_this_process(corpus, split_small):
    """Packed arrays that unpack but do not fit (lengths that differ, other types) are refused
    like any failed child: the index is the one-process one."""
    write_journal(corpus, many_lines())
    split_small.setattr(halves, "SPLIT_BYTES", 1 << 40)
    one = fresh_state(corpus)
    split_small.setattr(halves, "SPLIT_BYTES", 600)
    real = scan.LineScanner.second_half
    names = ("offsets", "lengths", "status", "text_lengths", "digest_kinds", "digests", "seconds")

    def reshaped(change):
        def second_half(self, reader, start):
            arrays, meta = halves.unpack(real(self, reader, start))
            return halves.pack(change(dict(arrays)), meta)

        return second_half

    for change in (
        lambda arrays: arrays | {"seconds": arrays["seconds"][:-1]},
        lambda arrays: arrays | {"offsets": arrays["offsets"].astype(np.float64)},
        lambda arrays: arrays | {"status": arrays["status"].astype(np.int64)},
        lambda arrays: {name: arrays[name] for name in ("positions",) + names[:-1]},
    ):
        split_small.setattr(scan.LineScanner, "second_half", reshaped(change))
        assert fresh_state(corpus) == one


def test_snippet_halves_of_the_wrong_shape_are_read_again(tmp_path, monkeypatch):
    import json

    import curate.store.snippets as snippets

    path = tmp_path / "snippets.jsonl"
    path.write_text("".join(json.dumps({"id": f"s{number}", "text": "text " * (number % 5)}) + "\n" for number in range(300)))
    one = snippets.build_with_text_facts(path)
    monkeypatch.setattr(halves, "SPLIT_BYTES", 1000)
    monkeypatch.setattr(halves.os, "cpu_count", lambda: 2)
    real, parent = snippets._snippet_facts_between, os.getpid()
    for change in (lambda arrays: (arrays[0].astype(np.float64),) + arrays[1:], lambda arrays: arrays[:3] + (arrays[3].astype(np.int64),)):
        # Changed in the child only (this process's own reading of that half is not).
        monkeypatch.setattr(snippets, "_snippet_facts_between", lambda *args, change=change: change(real(*args)) if os.getpid() != parent else real(*args))
        index, facts = snippets.build_with_text_facts(path)
        assert index.offsets.dtype == one[0].offsets.dtype and facts[1].dtype == one[1][1].dtype
        assert index.offsets.tolist() == one[0].offsets.tolist() and facts[1].tolist() == one[1][1].tolist()


def test_no_descriptor_is_left_open_whatever_the_child_does(quick_stall):
    def open_descriptors():
        return sorted(os.listdir("/proc/self/fd"))

    before = open_descriptors()
    lock, release, thread = held_by_another_thread()
    for work in (lambda: b"fine", lambda: 1 / 0, lambda: lock.acquire() and b""):
        child = halves.fork_child(work)
        halves.child_result(*child)
        gone(child[0])
    child = halves.fork_child(lambda: b"not wanted")
    halves.abandon_child(*child)
    release.set()
    thread.join()
    assert open_descriptors() == before


def test_output_buffered_before_the_fork_is_written_once(tmp_path):
    """The child leaves by os._exit: it neither flushes this process's buffers nor runs its exit handlers."""
    import subprocess
    import sys

    script = (
        "import atexit, sys\n"
        "from curate.store import halves\n"
        "sys.stdout.write('buffered ')\n"
        "atexit.register(lambda: sys.stdout.write('exit handler '))\n"
        "child = halves.fork_child(lambda: b'x')\n"
        "assert halves.child_result(*child) == bytearray(b'x')\n"
        "child = halves.fork_child(lambda: 1 / 0)\n"
        "assert halves.child_result(*child) is None\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=os.getcwd())
    assert result.returncode == 0, result.stderr
    assert result.stdout == "buffered exit handler " and result.stderr == ""


def test_a_split_scan_run_from_a_worker_thread_equals_one_process(corpus, split_small):
    """As the desk opens: in a thread while other threads run."""
    write_journal(corpus, many_lines())
    split_small.setattr(halves, "SPLIT_BYTES", 1 << 40)
    one = fresh_state(corpus)
    split_small.setattr(halves, "SPLIT_BYTES", 600)
    forks, real_fork = [], halves.fork_child
    split_small.setattr(scan, "fork_child", lambda work: forks.append(1) or real_fork(work))
    results, busy, stop = [], threading.Thread(target=lambda: stop.wait()), threading.Event()
    busy.start()
    worker = threading.Thread(target=lambda: results.append(fresh_state(corpus)))
    worker.start()
    worker.join(60)
    stop.set()
    busy.join()
    assert results == [one] and forks == [1]
