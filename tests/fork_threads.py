"""Tests of forked fit children see only the threads they start themselves.

`crftrain.forks()` refuses to fork while another Python thread runs. Earlier tests in the same
pytest process leave daemon threads behind for good (tqdm's monitor, prefetchers of the Hugging
Face libraries), which would make every later fit start a fresh Python instead: these tests
would then pass or fail with the order the suite runs in. The fixture counts only the main
thread and the threads started after it began.
"""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest

from curate.suggest import crftrain


@pytest.fixture(autouse=True)
def threads_of_this_test_only(monkeypatch):
    earlier = {thread for thread in threading.enumerate() if thread is not threading.main_thread()}

    def active_count() -> int:
        return sum(1 for thread in threading.enumerate() if thread not in earlier)

    monkeypatch.setattr(crftrain, "threading", SimpleNamespace(active_count=active_count))
