"""No test downloads: the Hugging Face clients are offline in every test session, whichever
test module imports them first (tests/conftest.py sets the switches before any is imported)."""

from __future__ import annotations

import os


def test_the_hub_clients_are_offline_in_a_test_session() -> None:
    import huggingface_hub.constants

    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
    assert huggingface_hub.constants.HF_HUB_OFFLINE is True
