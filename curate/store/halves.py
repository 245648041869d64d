"""Reading a large file on two cores: the second half by a forked child, the first by this process.

Index building is one pass over a file whose lines are independent, and the machine curate
runs on usually has two cores. A long pass is split at the first line start after the
middle (:func:`middle_line_start`); a forked child reads the second half and sends its result
back through a pipe as bytes (:func:`fork_child`, :func:`child_result`) while this process
reads the first half. Whatever goes wrong in the child (an exception, a damaged line whose
line number only this process can know, a child killed or unable to start) gives None, and
the caller reads that half itself, so results and messages are those of one process.

The child only computes and writes to its pipe: it runs none of the parent's exit code
(``os._exit``), touches no file but the one it reads, and takes no lock of its own. A child
forked from a process running other threads (the desk opens in a Textual worker thread) could
still block forever on a lock another thread held at the fork, so this process never waits
for it blindly: it gives the child up (kills and reaps it, then reads the half itself) when the
child has sent nothing, used no CPU and done no disk wait for :data:`STALL_SECONDS`. A working
child, however slow, is waited for. The result is whole once the child has sent the announced
bytes and exited (seen through a pidfd): no end of file is awaited, since a process forked
elsewhere meanwhile may hold the pipe's write end. Only Linux splits: Windows cannot fork, and
macOS system libraries are not fork-safe (Python spawns there too); the watch reads /proc.
"""

from __future__ import annotations

import functools
import json
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable

import numpy as np

from curate.store.files import pread_up_to

try:
    import fcntl
except ImportError:  # Windows: no fcntl (and no fork: nothing is split there)
    fcntl = None  # type: ignore[assignment]

# Passes over at least this many bytes are split in two (when the machine has two cores and can fork).
SPLIT_BYTES = 1 << 25
# The share of the bytes this process reads itself: a little under half, since it also takes in
# the child's result and does the serial work after (sorting, saving), while the child only reads.
OWN_SHARE = 0.46
# A child that for this long has sent nothing, used no CPU and waited on no disk is given up.
STALL_SECONDS = 2.0
# Held from pipe to fork to closing the write end here: no other split's child inherits the pipe.
_forking = threading.Lock()


def can_split(length: int) -> bool:
    """True when a pass over `length` bytes is worth splitting and this machine can."""
    return length >= SPLIT_BYTES and can_work_beside()


def can_work_beside() -> bool:
    """True when this machine can give work to a forked child on another core (Linux, a
    watchable fork, two cores or more)."""
    return _watchable_fork() and (os.cpu_count() or 1) >= 2


def _watchable_fork() -> bool:
    """Linux, where fork is safe enough and a child can be watched (pidfd, /proc)."""
    return sys.platform.startswith("linux") and hasattr(os, "fork") and _pidfds_work() and os.path.exists("/proc/self/stat")


@functools.cache
def _pidfds_work() -> bool:
    """Whether this kernel gives pidfds (Linux 5.3+, and not refused by a container's filter):
    without one a child's exit cannot be watched, so no pass is split."""
    try:
        os.close(os.pidfd_open(os.getpid()))
    except (OSError, AttributeError):
        return False
    return True


def middle_line_start(fd: int, start: int, end: int, share: float = OWN_SHARE) -> int | None:
    """The first line start after the middle of bytes `start`..`end` of the file open as `fd`
    (None if the pass is too short to split, or no line starts in the second half). The
    "middle" is `share` of the way (default :data:`OWN_SHARE`): this process's part ends there."""
    if not can_split(end - start):
        return None
    middle, step = start + int((end - start) * share), 1 << 16
    offset = middle
    while offset < end:
        data = pread_up_to(fd, min(step, end - offset), offset)
        if not data:
            return None
        newline = data.find(b"\n")
        if newline != -1:
            found = offset + newline + 1
            return found if found < end else None
        offset += len(data)
    return None


def fork_child(work: Callable[[], bytes]) -> tuple[int, int] | None:
    """(child pid, read end of its pipe): a forked child that runs `work` and writes what it
    returns to the pipe, or None if no child could be started."""
    with _forking:
        try:
            read_end, write_end = os.pipe()
        except OSError:
            return None
        try:  # a larger pipe: a result of tens of MB crosses in fewer reads and wake-ups
            fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, 1 << 20)  # type: ignore[union-attr]
        except (OSError, AttributeError):
            pass  # the system's limit is lower: the default size
        try:
            pid = os.fork()
        except OSError:
            os.close(read_end)
            os.close(write_end)
            return None
        except Warning:
            # Python 3.12+ warns when a process running threads forks; with warnings made
            # errors the warning is raised here, after the child started: it is found by the
            # pid it sends first, stopped and reaped, and this process reads the whole pass.
            os.close(write_end)
            _reap_unnamed(read_end)
            return None
        if pid == 0:  # the child: write the result and leave without running the parent's exit code
            status = 1
            try:
                _forking.release()  # this copy was taken by the forking thread: a nested split may take it
                os.close(read_end)
                os.write(write_end, os.getpid().to_bytes(8, "little"))  # 8 bytes: a pipe takes them whole
                result = work()
                with os.fdopen(write_end, "wb") as out:
                    out.write(len(result).to_bytes(8, "little"))
                    out.write(result)
                status = 0
            finally:
                os._exit(status)
        os.close(write_end)
    return pid, read_end


def _reap_unnamed(read_end: int) -> None:
    """Stop and reap the child at the other end of `read_end`, whose pid os.fork did not
    return: it sends its pid first (nothing is done if it never does)."""
    try:
        with os.fdopen(read_end, "rb", buffering=0) as pipe:
            sent = pipe.read(8)
        if len(sent) == 8:
            _kill_and_reap(int.from_bytes(sent, "little"))
    except OSError:
        pass


def abandon_child(pid: int, read_end: int) -> None:
    """Stop a child whose result is no longer wanted (this process is leaving the pass on an
    exception, such as a damaged line or Ctrl-C) and reap it: no child outlives its pass."""
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass  # already gone
    os.close(read_end)
    _reap(pid)


def child_result(pid: int, read_end: int) -> bytearray | None:
    """What the child wrote, once it has exited; None if it failed in any way (exited
    non-zero, sent less or more than it announced, announced more than can be held, or
    stalled: see the module's docstring). The child is reaped in every case. (Read into one
    buffer of the announced size: no second copy of a large result.)"""
    try:
        try:
            data = _receive(pid, read_end)
        finally:
            os.close(read_end)
    except BaseException:  # e.g. Ctrl-C while waiting: the child goes too
        _kill_and_reap(pid)
        raise
    if data is None:
        _kill_and_reap(pid)
        return None
    status = _reap(pid)  # it has exited (_receive saw it)
    if status is None or os.waitstatus_to_exitcode(status) != 0:
        return None
    return data


def _kill_and_reap(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass  # already gone
    _reap(pid)


def _reap(pid: int) -> int | None:
    """The child's wait status once it has exited; None if something else in this process
    reaped it first (a handler of SIGCHLD waiting for any child): its exit is then unknown."""
    try:
        return os.waitpid(pid, 0)[1]
    except ChildProcessError:
        return None


def _receive(pid: int, read_end: int) -> bytearray | None:
    """The bytes the child announced and sent, once it has exited; None if it exited without
    sending them all, sent more, announced more than this process can hold, or stalled."""
    try:
        exit_fd = os.pidfd_open(pid)
    except OSError:
        return None
    try:
        os.set_blocking(read_end, False)
        poller = select.poll()
        poller.register(read_end, select.POLLIN)
        poller.register(exit_fd, select.POLLIN)
        head, data, done, exited = bytearray(16), None, 0, False  # the child's pid, then the result's size
        buffer, watch = head, _Watch(pid)
        while True:
            ready = {fd for fd, _ in poller.poll(100)}
            received = False
            while done < len(buffer):  # everything the pipe holds now
                try:
                    count = os.readv(read_end, [memoryview(buffer)[done:]])
                except BlockingIOError:
                    break
                if count == 0:
                    return None  # every writer closed it before the announced end
                done, received = done + count, True
                if done == len(buffer) and buffer is head:
                    if int.from_bytes(head[:8], "little") != pid:
                        return None  # not the child's pipe
                    try:
                        data = buffer = bytearray(int.from_bytes(head[8:], "little"))
                    except (MemoryError, OverflowError):
                        return None
                    done = 0
            if data is not None and done == len(data):
                if exited:
                    try:
                        return None if os.read(read_end, 1) else data  # more than announced
                    except BlockingIOError:
                        return data
            elif exited:
                return None  # gone before sending it all
            if exit_fd in ready:
                exited = True  # one more look at the pipe: what it sent before leaving is there
                continue
            if watch.stalled(received):
                return None
    finally:
        os.close(exit_fd)


class _Watch:
    """Whether a child has made no progress for :data:`STALL_SECONDS`: sent nothing, used no
    CPU and was not running or waiting on the disk (/proc/PID/stat)."""

    def __init__(self, pid: int) -> None:
        self.path = f"/proc/{pid}/stat"
        self.since = time.monotonic()
        self.ticks = self.state()[1]

    def state(self) -> tuple[str, int]:
        try:
            with open(self.path, "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
            return fields[0].decode(), int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            return "?", -1

    def stalled(self, received: bool) -> bool:
        now = time.monotonic()
        if received:
            self.since = now
            return False
        state, ticks = self.state()
        if ticks != self.ticks or state in ("R", "D"):
            self.since, self.ticks = now, ticks
            return False
        return now - self.since >= STALL_SECONDS


def pack(arrays: dict[str, np.ndarray], meta: object = None) -> bytes:
    """Arrays and JSON-able `meta` as bytes for :func:`unpack` (no pickling: only numbers and JSON)."""
    header = {"meta": meta, "arrays": [[name, array.dtype.str, len(array)] for name, array in arrays.items()]}
    head = json.dumps(header).encode()
    return b"".join([len(head).to_bytes(8, "little"), head] + [np.ascontiguousarray(array).tobytes() for array in arrays.values()])


def unpack(data: bytes | bytearray) -> tuple[dict[str, np.ndarray], object]:
    """The arrays and meta :func:`pack` made (ValueError if `data` is not such bytes); the
    arrays are views of `data`, not copies."""
    try:
        size = int.from_bytes(data[:8], "little")
        header = json.loads(bytes(data[8 : 8 + size]))
        offset, arrays = 8 + size, {}
        for name, dtype, count in header["arrays"]:
            array = np.frombuffer(data, dtype=np.dtype(dtype), count=count, offset=offset)
            arrays[name] = array
            offset += array.nbytes
    except (KeyError, TypeError) as error:
        raise ValueError(f"not packed arrays: {error}") from None
    if offset != len(data):
        raise ValueError("not packed arrays: wrong length")
    return arrays, header["meta"]
