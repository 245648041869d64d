"""Reading a large file on two cores: the second half by a forked child, the first by this process.

Index building is one pass over a file whose lines are independent, and the machine curate
runs on usually has two cores. A long pass is split at the first line start after the
middle (:func:`middle_line_start`); a forked child reads the second half and sends its result
back through a pipe as bytes (:func:`fork_child`, :func:`child_result`) while this process
reads the first half. Whatever goes wrong in the child (an exception, a damaged line whose
line number only this process can know, a child killed or unable to start) gives None, and
the caller reads that half itself, so results and messages are those of one process.

The child only computes and writes to its pipe: it runs none of the parent's exit code
(``os._exit``), touches no file but the one it reads, and takes no lock.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from typing import BinaryIO

import numpy as np

from curate.store.files import pread_up_to

# Passes over at least this many bytes are split in two (when the machine has two cores and can fork).
SPLIT_BYTES = 1 << 25
# The share of the bytes this process reads itself: a little under half, since it also takes in
# the child's result and does the serial work after (sorting, saving), while the child only reads.
OWN_SHARE = 0.46


def can_split(length: int) -> bool:
    """True when a pass over `length` bytes is worth splitting and this machine can."""
    return length >= SPLIT_BYTES and hasattr(os, "fork") and (os.cpu_count() or 1) >= 2


def middle_line_start(fd: int, start: int, end: int) -> int | None:
    """The first line start after the middle of bytes `start`..`end` of the file open as `fd`
    (None if the pass is too short to split, or no line starts in the second half). The
    "middle" is :data:`OWN_SHARE` of the way: this process's part ends there."""
    if not can_split(end - start):
        return None
    middle, step = start + int((end - start) * OWN_SHARE), 1 << 16
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
    try:
        read_end, write_end = os.pipe()
    except OSError:
        return None
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return None
    if pid == 0:  # the child: write the result and leave without running the parent's exit code
        status = 1
        try:
            os.close(read_end)
            result = work()
            with os.fdopen(write_end, "wb") as out:
                out.write(len(result).to_bytes(8, "little"))
                out.write(result)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    return pid, read_end


def abandon_child(pid: int, read_end: int) -> None:
    """Stop a child whose result is no longer wanted (this process is leaving the pass on an
    exception, such as a damaged line or Ctrl-C) and reap it: no child outlives its pass."""
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass  # already gone
    os.close(read_end)
    os.waitpid(pid, 0)


def child_result(pid: int, read_end: int) -> bytearray | None:
    """What the child wrote, once it has exited; None if it failed in any way. (Read into
    one buffer of the announced size: no second copy of a large result.)"""
    data: bytearray | None = None
    try:
        with os.fdopen(read_end, "rb", buffering=0) as pipe:
            head = _read_exactly(pipe, 8)
            if head is not None:
                data = _read_exactly(pipe, int.from_bytes(head, "little"))
                if data is not None and pipe.read(1):
                    data = None  # more than announced
    except BaseException:  # e.g. Ctrl-C while waiting: the child goes too
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
        os.waitpid(pid, 0)
        raise
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        return None
    return data


def _read_exactly(pipe: BinaryIO, size: int) -> bytearray | None:
    """`size` bytes from `pipe`, or None if it ends before (a child that stopped mid-write)."""
    data, done = bytearray(size), 0
    view = memoryview(data)
    while done < size:
        count = pipe.readinto(view[done:])
        if not count:
            return None
        done += count
    return data


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
