"""Benchmark of `curate annotate` in a pseudo-terminal; prints JSON.

- first paint: from starting `curate annotate` on a generated 1,000,000-snippet corpus to the
  first frame showing the snippet (process start, imports, opening the corpus included);
  with `--fresh`, also the first paint of a fresh clone (no .curate/: the snippet index is
  built first) and of an annotator whose journal holds a record for every snippet but the
  first and has no index yet (the journal is scanned first); `*_screen` is the first paint of
  any screen, the opening screen included (the journal is read in a worker behind it);
- with `--review N`, the first paint of `curate review` on N snippets done by two annotators
  who disagree on one in 50: to its first screen (the opening one; the journals are read and
  the agreed snippets merged into gold in a worker behind it) and to the review screen, and
  its peak memory; `--review-only` times nothing else but, besides, the review desk's own
  opening in a process of its own (seconds and peak memory; then `contradicted_gold` over the
  gold it wrote, seconds), and with
  `--review-compare-with DIR` the same for the curate package in DIR (an earlier version, say
  `git archive COMMIT curate | tar -x -C DIR`) in the same run, alternating;
- key to painted frame, p50/p95 in ms, on one snippet of 200 paragraphs: cursor moves,
  selections, labelling (each one an fsynced journal append) and page scrolling.

A frame counts as painted when the app has written it to the terminal: the app is told the
terminal supports synchronized output, so every frame ends with ESC[?2026l, and the clock
stops when that arrives. Corpora are generated under /tmp (or --workdir) and reused.

    .venv/bin/python scripts/bench_ui.py [--snippets 1000000] [--keys 60] [--fresh] [--review 20000 [--review-only [--review-compare-with DIR]]]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import random
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from curate.store import CorpusLayout

ROOT = Path(__file__).resolve().parent.parent
CURATE = Path(sys.executable).with_name("curate")
SYNC_QUERY = b"\x1b[?2026$p"
SYNC_SUPPORTED = b"\x1b[?2026;1$y"
FRAME_END = b"\x1b[?2026l"
SNIPPET = b"s0000000"  # the first snippet's id, on the annotate screen
OPENING = b"opening "  # the opening screen, shown while a worker opens the desk
COLUMNS, ROWS = 140, 45

WORDS = (
    "minister said talks government police market city officials report week president company "
    "shares rose fell bank court election party leader river storm hospital school council"
).split()
NAMES = ["Kim Jong-un", "Vladimir Putin", "Jakarta", "Reuters", "Bali", "Singapore", "Lee Hsien Loong", "UNESCO"]


def sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(8, 16))]
    words.insert(rng.randrange(len(words)), rng.choice(NAMES))
    text = " ".join(words)
    return text[0].upper() + text[1:] + "."


def build_corpus(folder: Path, texts, name: str) -> None:
    from curate.model import CorpusConfig
    from curate.store import Corpus, CorpusLayout, write_config

    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    write_config(folder, CorpusConfig(name=name))
    with CorpusLayout(folder).snippets.open("w", encoding="utf-8") as handle:
        for number, text in enumerate(texts):
            handle.write(json.dumps({"id": f"s{number:07d}", "text": text, "meta": {}}, ensure_ascii=False) + "\n")
    with Corpus.open(folder):
        pass  # builds and saves the snippet index, as `curate ingest` does


def big_corpus(workdir: Path, count: int) -> Path:
    folder = workdir / f"bench-ui-{count}"
    marker = folder / ".complete"
    if not marker.exists():
        rng = random.Random(1)
        texts = (" ".join(sentence(rng) for _ in range(2)) + "\n" + sentence(rng) for _ in range(count))
        build_corpus(folder, texts, "bench")
        marker.write_text("ok")
    return folder


def long_snippet_corpus(workdir: Path) -> Path:
    """One snippet of 200 paragraphs, with suggested entities on every name."""
    from curate.model import Annotation, Entity, Story
    from curate.store import Corpus

    folder = workdir / "bench-ui-long"
    rng = random.Random(2)
    text = "\n".join(" ".join(sentence(rng) for _ in range(rng.randint(2, 5))) for _ in range(200))
    build_corpus(folder, [text], "bench-long")
    entities = []
    for name in NAMES:
        position = text.find(name)
        while position != -1:
            entities.append(Entity(start=position, end=position + len(name), label="PERSON"))
            position = text.find(name, position + 1)
    entities.sort(key=lambda entity: entity.start)
    with Corpus.open(folder) as corpus, corpus.suggestions(writable=True) as suggestions:
        suggestions.append(Annotation(snippet_id="s0000000", annotator="model:bench", stories=[Story(start=0, end=len(text))], entities=entities))
    return folder


class Terminal:
    """`curate annotate` on a pseudo-terminal of COLUMNS x ROWS."""

    def __init__(self, corpus: Path, annotator: str, command: str = "annotate") -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        env = dict(os.environ, TERM="xterm-256color", COLUMNS=str(COLUMNS), LINES=str(ROWS))
        self.started = time.perf_counter()
        who = "--adjudicator" if command == "review" else "--annotator"
        self.process = subprocess.Popen(
            [str(CURATE), command, str(corpus), who, annotator],
            stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True, close_fds=True,
        )
        os.close(slave)
        self.buffer = bytearray()

    def read(self, timeout: float) -> bytes:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return b""
        try:
            chunk = os.read(self.master, 1 << 16)
        except OSError:
            return b""
        if SYNC_QUERY in chunk:
            os.write(self.master, SYNC_SUPPORTED)
        self.buffer += chunk
        return chunk

    def wait_for(self, marker: bytes, timeout: float) -> float | None:
        """Seconds until `marker` appears in the output after the buffer was last cleared."""
        deadline = time.perf_counter() + timeout
        while marker not in self.buffer:
            left = deadline - time.perf_counter()
            if left <= 0:
                return None
            self.read(left)
        return time.perf_counter()

    def wait_for_screen(self, timeout: float) -> float | None:
        """Seconds until the first screen shows: the opening screen (the desk still being
        opened in a worker) or the snippet itself."""
        deadline = time.perf_counter() + timeout
        while OPENING not in self.buffer and SNIPPET not in self.buffer:
            left = deadline - time.perf_counter()
            if left <= 0:
                return None
            self.read(left)
        return time.perf_counter()

    def drain(self, quiet: float = 0.05) -> None:
        while self.read(quiet):
            pass
        self.buffer.clear()

    def key_to_frame(self, key: bytes, timeout: float = 2.0) -> float | None:
        self.drain()
        start = time.perf_counter()
        os.write(self.master, key)
        end = self.wait_for(FRAME_END, timeout)
        return None if end is None else (end - start) * 1000

    def close_with_usage(self):
        """Quit (`q`, killed after 5 s) and return the process's resource usage (os.wait4)."""
        os.write(self.master, b"q")
        deadline = time.perf_counter() + 5
        while True:
            pid, status, usage = os.wait4(self.process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                os.killpg(self.process.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(self.process.pid, 0)
                break
            time.sleep(0.02)
        self.process.returncode = os.waitstatus_to_exitcode(status)
        os.close(self.master)
        return usage

    def close(self) -> None:
        try:
            os.write(self.master, b"q")
            self.process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        os.close(self.master)


def first_paint(corpus: Path, runs: int) -> list[float]:
    times = []
    for run in range(runs):
        terminal = Terminal(corpus, f"paint{run}")
        end = terminal.wait_for(b"s0000000", 30)
        terminal.wait_for(FRAME_END, 5) if SYNC_SUPPORTED and FRAME_END in terminal.buffer else None
        terminal.close()
        if end is None:
            raise SystemExit("the first frame never showed the snippet id")
        times.append(end - terminal.started)
        shutil.rmtree(CorpusLayout(corpus).annotations, ignore_errors=True)
        shutil.rmtree(CorpusLayout(corpus).journal_indexes, ignore_errors=True)
    return times


def full_journal(workdir: Path, corpus: Path) -> Path:
    """A journal with a done record for every snippet of `corpus` but the first (made once)."""
    import msgspec

    path = workdir / f"{corpus.name}-journal.jsonl"
    if path.exists():
        return path
    decoder = msgspec.json.Decoder()
    partial = path.with_suffix(".partial")
    with CorpusLayout(corpus).snippets.open("rb") as snippets, partial.open("w", encoding="utf-8") as out:
        for number, line in enumerate(snippets):
            if number == 0:
                continue
            snippet = decoder.decode(line)
            record = {"snippet_id": snippet["id"], "annotator": "fresh", "stories": [{"start": 0, "end": len(snippet["text"])}], "status": "done", "seconds": 1.0}
            out.write(json.dumps(record) + "\n")
    partial.rename(path)
    return path


def fresh_first_paint(corpus: Path, journal: Path, runs: int) -> dict[str, list[float]]:
    """First paint with nothing indexed: no .curate/ at all, then a big journal without its index."""
    layout = CorpusLayout(corpus)
    kinds = ("no_curate_dir", "journal_without_index")
    times: dict[str, list[float]] = {name: [] for kind in kinds for name in (kind, f"{kind}_screen")}
    for kind in kinds:
        for _ in range(runs):
            if kind == "no_curate_dir":
                shutil.rmtree(layout.index_dir, ignore_errors=True)
                annotator = "paint"
            else:
                layout.annotations.mkdir(exist_ok=True)
                shutil.copyfile(journal, layout.annotations / "fresh.jsonl")
                shutil.rmtree(layout.journal_indexes, ignore_errors=True)
                annotator = "fresh"
            terminal = Terminal(corpus, annotator)
            shown = terminal.wait_for_screen(60)
            end = terminal.wait_for(SNIPPET, 60)
            terminal.close()
            if end is None or shown is None:
                raise SystemExit("the first frame never showed the snippet id")
            times[kind].append(end - terminal.started)
            times[f"{kind}_screen"].append(shown - terminal.started)
            shutil.rmtree(layout.annotations, ignore_errors=True)
            shutil.rmtree(layout.journal_indexes, ignore_errors=True)
    return times


def review_corpus(workdir: Path, count: int) -> Path:
    """`count` snippets, each done by two annotators (ana, ben) who disagree on the label of its
    name in one snippet of 50 (made once): what `curate review` reads before its review screen."""
    folder = workdir / f"bench-ui-review-{count}"
    marker = folder / ".complete"
    if marker.exists():
        return folder
    rng = random.Random(3)
    texts = [" ".join(sentence(rng) for _ in range(2)) for _ in range(count)]
    build_corpus(folder, texts, "bench-review")
    annotations = CorpusLayout(folder).annotations
    annotations.mkdir(exist_ok=True)
    for name, other in (("ana", "ORG"), ("ben", "PERSON")):
        with (annotations / f"{name}.jsonl").open("w", encoding="utf-8") as out:
            for number, text in enumerate(texts):
                found = next((text.find(person), person) for person in NAMES if person in text)
                label = other if number % 50 == 0 else "PERSON"
                record = {
                    "snippet_id": f"s{number:07d}", "annotator": name, "stories": [{"start": 0, "end": len(text)}],
                    "entities": [{"start": found[0], "end": found[0] + len(found[1]), "label": label}], "status": "done", "seconds": 1.0,
                }
                out.write(json.dumps(record) + "\n")
    marker.write_text("ok")
    return folder


REVIEW_SCREEN = b"disagreement"  # the review screen's keys line (d/D next/prev disagreement)


def review_first_paint(corpus: Path, runs: int) -> dict[str, list[float]]:
    """`curate review` from process start: to its first screen (the opening one, while a worker
    reads both journals and merges the agreed snippets into gold) and to the review screen, and
    the process's peak resident memory (MB). Gold and the review journal are removed after each
    run, so every run merges again."""
    layout = CorpusLayout(corpus)
    times: dict[str, list[float]] = {"screen": [], "review": [], "peak_rss_mb": []}
    for _ in range(runs):
        terminal = Terminal(corpus, "judge", "review")
        shown = terminal.wait_for_screen(120)
        end = terminal.wait_for(REVIEW_SCREEN, 600)
        usage = terminal.close_with_usage()
        if shown is None or end is None:
            raise SystemExit("curate review never showed its review screen")
        times["screen"].append(shown - terminal.started)
        times["review"].append(end - terminal.started)
        times["peak_rss_mb"].append(usage.ru_maxrss / 1024)
        layout.gold.unlink(missing_ok=True)
        layout.review_journal("judge").unlink(missing_ok=True)
    return times


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {"p50": round(statistics.median(ordered), 2), "p95": round(p95, 2), "max": round(ordered[-1], 2), "n": len(ordered)}


def key_latencies(corpus: Path, keys_per_kind: int) -> dict[str, dict[str, float]]:
    shutil.rmtree(CorpusLayout(corpus).annotations, ignore_errors=True)
    terminal = Terminal(corpus, "keys")
    if terminal.wait_for(b"s0000000", 30) is None:
        raise SystemExit("the long snippet never appeared")
    time.sleep(0.5)
    results: dict[str, list[float]] = {"cursor": [], "selection": [], "label": [], "scroll": []}
    missed = 0

    def measure(kind: str, key: bytes) -> None:
        nonlocal missed
        value = terminal.key_to_frame(key)
        if value is None:
            missed += 1
        else:
            results[kind].append(value)

    try:
        for index in range(keys_per_kind):
            measure("cursor", b"l" if index % 4 else b"j")
        for index in range(keys_per_kind):
            if index % 10 == 0:
                # escape clears the selection; not timed, since a terminal cannot tell a lone
                # escape from the start of a sequence without waiting for what follows
                terminal.key_to_frame(b"\x1b")
            measure("selection", b"\x1b[1;2C")  # shift+right
        for index in range(keys_per_kind):
            terminal.key_to_frame(b"]")
            measure("label", b"1")
        for index in range(keys_per_kind):
            measure("scroll", b"\x1b[6~" if (index // 10) % 2 == 0 else b"\x1b[5~")
    finally:
        terminal.close()
    report = {kind: summary(values) for kind, values in results.items() if values}
    report["missed_frames"] = missed  # type: ignore[assignment]
    return report


# The review desk's own opening (ReviewDesk: both journals read, agreed snippets merged into
# gold), in a process of its own: its seconds and peak memory, for this checkout's curate or the
# one in another folder (an earlier version), so both are timed in the same run.
DESK_CHILD = """
import json, sys, time
from pathlib import Path
import curate.reviewing
from curate.reviewing import ReviewDesk
from curate.store import Corpus, CorpusLayout
sys.path.insert(0, __SCRIPTS_DIR__)
from benchkit import peak_rss_mb as peak_mb  # VmHWM: this process's own peak
layout = CorpusLayout(Path(sys.argv[1]))
def clear():
    layout.gold.unlink(missing_ok=True)
    layout.review_journal("judge").unlink(missing_ok=True)
clear()
with Corpus.open(layout.root) as corpus:
    started = time.perf_counter()
    desk = ReviewDesk(corpus, "judge")
    seconds = time.perf_counter() - started
    queued, auto = len(desk), desk.auto_accepted
    desk.journal.close()
    from curate.adjudicate import contradicted_gold  # over the gold the desk just wrote
    started = time.perf_counter()
    contradicted = len(contradicted_gold(corpus))
    contradicted_seconds = time.perf_counter() - started
clear()
peak = peak_mb()
print(json.dumps({"seconds": seconds, "queued": queued, "auto": auto, "peak_rss_mb": peak, "module": curate.reviewing.__file__,
                  "contradicted_gold_s": contradicted_seconds, "contradicted": contradicted}))
"""
DESK_CHILD = DESK_CHILD.replace("__SCRIPTS_DIR__", repr(str(Path(__file__).resolve().parent)))


def desk_opening(corpus: Path, code: Path | None = None) -> dict:
    """One opening of the review desk in a child process (curate imported from `code` if given;
    run from the corpus folder so that this checkout does not shadow it)."""
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = str(code)
    result = subprocess.run([sys.executable, "-c", DESK_CHILD, str(corpus)], cwd=corpus, env=env, capture_output=True, text=True, check=True)
    figures = json.loads(result.stdout.splitlines()[-1])
    assert code is None or figures["module"].startswith(str(code)), figures["module"]
    return figures


def desk_openings(corpus: Path, runs: int, code: Path | None = None, compare_with: Path | None = None) -> dict:
    """Medians of `runs` desk openings (after one untimed opening that brings the .curate/ indexes
    up to date), alternating with the `compare_with` version when given."""
    versions = {"review_desk": code} | ({"compared_review_desk": compare_with} if compare_with is not None else {})
    results: dict[str, list[dict]] = {name: [] for name in versions}
    for where in versions.values():
        desk_opening(corpus, where)
    for _ in range(runs):
        for name, where in versions.items():
            results[name].append(desk_opening(corpus, where))
    figures = {}
    for name, runs_of in results.items():
        figures[f"{name}_open_s"] = {"median": round(statistics.median(run["seconds"] for run in runs_of), 3), "runs": [round(run["seconds"], 3) for run in runs_of]}
        figures[f"{name}_peak_rss_mb"] = round(statistics.median(run["peak_rss_mb"] for run in runs_of), 1)
        figures[f"{name}_queued_auto"] = [runs_of[0]["queued"], runs_of[0]["auto"]]
        figures[f"{name}_contradicted_gold_s"] = round(statistics.median(run["contradicted_gold_s"] for run in runs_of), 3)
    if compare_with is not None:
        figures["compared_with"] = str(compare_with)
        figures["review_desk_ratio"] = round(figures["review_desk_open_s"]["median"] / figures["compared_review_desk_open_s"]["median"], 2)
    return figures


def review_figures(count: int, times: dict[str, list[float]]) -> dict:
    return {
        "review_snippets": count,
        **{
            (f"review_first_paint_{kind}_s" if kind != "peak_rss_mb" else "review_peak_rss_mb"): {"median": round(statistics.median(values), 3), "runs": [round(value, 3) for value in values]}
            for kind, values in times.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--snippets", type=int, default=1_000_000, help="size of the generated corpus for first paint")
    parser.add_argument("--keys", type=int, default=60, help="keys measured per kind")
    parser.add_argument("--paint-runs", type=int, default=3, help="first-paint runs (median reported)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp"), help="where generated corpora live")
    parser.add_argument("--fresh", action="store_true", help="also time the first paint with no index (no .curate/; a journal of every snippet without its index)")
    parser.add_argument("--review", type=int, default=0, metavar="N", help="also time `curate review`'s first paint on N snippets done by two annotators (0: not)")
    parser.add_argument("--review-only", action="store_true", help="time only `curate review` (with --review N), nothing else")
    parser.add_argument("--review-code", type=Path, metavar="DIR", help="with --review-only: open the review desk with the curate package in DIR instead of this checkout's")
    parser.add_argument("--review-compare-with", type=Path, metavar="DIR", help="with --review-only: also open the review desk with the curate package in DIR (an earlier version), same run")
    args = parser.parse_args()
    if args.review_only:
        if not args.review:
            parser.error("--review-only needs --review N")
        corpus = review_corpus(args.workdir, args.review)
        code = args.review_code.resolve() if args.review_code else None
        compare = args.review_compare_with.resolve() if args.review_compare_with else None
        desk = desk_openings(corpus, args.paint_runs, code, compare)
        review = review_first_paint(corpus, args.paint_runs)
        print(json.dumps({"terminal": f"{COLUMNS}x{ROWS} pty", **review_figures(args.review, review), **desk}, indent=2))
        return
    sys.path.insert(0, str(ROOT))

    generated = time.perf_counter()
    big = big_corpus(args.workdir, args.snippets)
    long = long_snippet_corpus(args.workdir)
    journal = full_journal(args.workdir, big) if args.fresh else None
    generated = time.perf_counter() - generated
    paints = first_paint(big, args.paint_runs)
    fresh = fresh_first_paint(big, journal, args.paint_runs) if journal is not None else {}
    review = review_first_paint(review_corpus(args.workdir, args.review), args.paint_runs) if args.review else None
    latencies = key_latencies(long, args.keys)
    print(json.dumps({
        "terminal": f"{COLUMNS}x{ROWS} pty",
        "corpus_snippets": args.snippets,
        "first_paint_s": {"median": round(statistics.median(paints), 3), "runs": [round(value, 3) for value in paints]},
        **{f"first_paint_{kind}_s": {"median": round(statistics.median(values), 3), "runs": [round(value, 3) for value in values]} for kind, values in fresh.items()},
        **(review_figures(args.review, review) if review else {}),
        "long_snippet_paragraphs": 200,
        "key_to_frame_ms": latencies,
        "goal": {"first_paint_s": 0.5, "p95_ms": 16},
        "setup_s": round(generated, 1),
    }, indent=2))


if __name__ == "__main__":
    main()
