"""Small corpora for the suggest tests (the local path and the Ray engine build the same ones)."""

from __future__ import annotations

import json
from pathlib import Path

from learning_corpus import marker_page  # noqa: F401 (the suggest tests import it from here)

from curate.ingest import ingest

PAGE = (
    "Harbour cranes return to Wexbridge after refit\n"
    "Photo: Port Authority\n"
    "The three cranes of Wexbridge harbour were lifted back into place on Tuesday after a refit in Rotterdam.\n"
    "Dock workers in Wexbridge said the cranes would be working again by the end of the month.\n"
    "Shoppers queued from dawn outside the new market hall in Brenner, where stall holders had been promised lower rents and\n"
    "A rare white stag was seen in the forest above Lindau for the third time this month, rangers in Germany said.\n"
)


def make_corpus(tmp_path: Path, texts: list[str], labels: list[str] | None = None) -> Path:
    source = tmp_path / "source.jsonl"
    with source.open("w", encoding="utf-8") as handle:
        for number, text in enumerate(texts):
            handle.write(json.dumps({"id": f"s{number:03d}", "text": text}) + "\n")
    ingest([source], tmp_path / "corpus", labels=labels)
    return tmp_path / "corpus"


def suggestions(directory: Path) -> list[dict]:
    path = directory / "suggestions.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
