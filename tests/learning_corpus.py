"""A small corpus whose story starts are learnable (the learning loop's tests): pages whose
later stories open with '+++', a cue the hand-set scorer ignores and a CRF picks up from a
few done records."""

from __future__ import annotations

import json
from pathlib import Path

from curate.ingest import ingest

FILLER = [
    "Grain prices rose again in the valley markets today.",
    "Traders expect more gains this week, brokers said.",
    "Rain is forecast for the weekend across the hills.",
    "The council of Varel meets on Monday to discuss the budget.",
    "Officials gave no reason for the delay to the new road.",
    "Tickets for the concert sold out within an hour.",
]


def marker_page(number: int) -> tuple[str, list[int]]:
    """Two or three stories, each after the first opening with '+++'; the text and its starts."""
    starts = []
    text = ""
    for story in range(2 + number % 2):
        lines = [FILLER[(number + story + k) % len(FILLER)] for k in range(2 + (number + story) % 2)]
        if story:
            lines[0] = "+++ " + lines[0]
            starts.append(len(text))
        text += "\n".join(lines) + "\n"
    return text, starts


def done_record(number: int, annotator: str, status: str = "done") -> dict:
    text, starts = marker_page(number)
    cuts = [0, *starts, len(text)]
    stories = [{"start": a, "end": b, "truncated": False} for a, b in zip(cuts, cuts[1:])]
    return {"snippet_id": f"s{number:03d}", "annotator": annotator, "status": status, "stories": stories}


def learning_corpus(folder: Path, pages: int, done: int = 0, annotator: str = "ana", config: str = "") -> Path:
    """`pages` marker pages (ids s000, s001, ...), the first `done` of them done by `annotator`;
    `config` is added to corpus.toml."""
    source = folder / "source.jsonl"
    source.write_text("".join(json.dumps({"id": f"s{number:03d}", "text": marker_page(number)[0]}) + "\n" for number in range(pages)), encoding="utf-8")
    directory = folder / "corpus"
    ingest([source], directory)
    if config:
        with (directory / "corpus.toml").open("a", encoding="utf-8") as handle:
            handle.write("\n" + config)
    if done:
        (directory / "annotations").mkdir(exist_ok=True)
        with (directory / "annotations" / f"{annotator}.jsonl").open("w", encoding="utf-8") as handle:
            for number in range(done):
                handle.write(json.dumps(done_record(number, annotator)) + "\n")
    return directory


def latest_suggestions(directory: Path) -> dict[str, dict]:
    path = directory / "suggestions.jsonl"
    latest: dict[str, dict] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            latest[record["snippet_id"]] = record
    return latest


def story_starts(record: dict) -> list[int]:
    return [story["start"] for story in record["stories"][1:]]


def gated_fit(job, connection) -> None:
    """The fit process's entry point held until the test creates `release` beside the corpus
    (it says it started with `fit-started`), so a test can act while the process is alive."""
    import time

    from curate.learning_loop import fit_process

    folder = Path(job.corpus_path).parent
    (folder / "fit-started").touch()
    while not (folder / "release").exists():
        time.sleep(0.02)
    fit_process(job, connection)
