"""Benchmark of gold.jsonl's store (`curate.store.gold.GoldStore`): opening it and one accept; prints JSON.

A generated corpus of N snippets (default 200,000) with a gold record for each. In a process of
its own per run (so peak memory is the run's own): open the corpus (`corpus_peak_rss_mb`, the
anchor), open the GoldStore (seconds), then put one changed record twice (the first put also
places every record read; the second is a review desk's next accept), and the peak memory
(VmHWM). With `--compare-with COMMIT` (default cf39c58, the store that validated and held every
record) the GoldStore of that commit runs in the same way, alternating, on the same files; the
gold.jsonl both write is checked to be the same bytes.

    .venv/bin/python scripts/bench_gold.py [--records 200000] [--runs 3] [--compare-with COMMIT]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import importlib.util, json, sys, time, hashlib
from pathlib import Path
from curate.store import Corpus
folder, module_path = sys.argv[1], sys.argv[2]
if module_path:
    spec = importlib.util.spec_from_file_location("gold_under_test", module_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
else:
    import curate.store.gold as module
def status(field):
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
with Corpus.open(folder) as corpus:
    anchor = status("VmHWM:")
    started = time.perf_counter()
    store = module.GoldStore(corpus)
    open_s = time.perf_counter() - started
    held = status("VmRSS:") - anchor
    changed = store.get("s0100000") or store.get("s0000001")
    times = []
    for note in ("first", "second"):
        started = time.perf_counter()
        store.put(changed.model_copy(update={"note": note}))
        times.append(time.perf_counter() - started)
    peak = status("VmHWM:")
    digest = hashlib.sha256(corpus.layout.gold.read_bytes()).hexdigest()
print(json.dumps({"open_s": open_s, "put_s": times[0], "next_put_s": times[1], "corpus_peak_rss_mb": anchor,
                  "peak_rss_mb": peak, "rss_after_open_mb": held, "records": len(store), "gold_sha256": digest, "module": module.__file__}))
"""


def generated(workdir: Path, count: int) -> Path:
    """A corpus of `count` short snippets with one gold record each (made once, reused)."""
    from curate.model import CorpusConfig, GoldAnnotation
    from curate.store import Corpus, CorpusLayout, write_config

    folder = workdir / f"bench-gold-{count}"
    if (folder / ".complete").exists():
        return folder
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    write_config(folder, CorpusConfig(name="bench-gold"))
    rng = random.Random(5)
    texts = []
    layout = CorpusLayout(folder)
    with layout.snippets.open("w", encoding="utf-8") as handle:
        for number in range(count):
            text = f"Reporter {number} said the minister met officials in Jakarta on day {rng.randint(1, 28)}.\nPhoto: Agency"
            texts.append(text)
            handle.write(json.dumps({"id": f"s{number:07d}", "text": text, "meta": {}}) + "\n")
    with Corpus.open(folder):
        pass  # the snippet index, built and saved
    with layout.gold.open("wb") as handle:
        for number, text in enumerate(texts):
            cut = text.index("\n") + 1
            record = GoldAnnotation(
                snippet_id=f"s{number:07d}", annotator="gold", adjudicator="judge", sources=["ana", "bo"], status="done",
                stories=[{"start": 0, "end": cut}, {"start": cut, "end": len(text)}], boilerplate=[{"start": cut, "end": len(text), "kind": "credit"}],
                entities=[{"start": 0, "end": 8, "label": "PERSON"}, {"start": 50, "end": 57, "label": "GPE"}],
                seconds=round(rng.random() * 30, 1), updated_at="2026-12-07T10:00:00Z",
            )  # fmt: skip
            handle.write(record.model_dump_json().encode() + b"\n")  # as the store writes it
    shutil.copyfile(layout.gold, pristine(folder))
    (folder / ".complete").write_text("ok")
    return folder


def pristine(folder: Path) -> Path:
    """The generated gold, copied back before each run (each run's puts change it)."""
    from curate.store import CorpusLayout

    return CorpusLayout(folder).gold.with_suffix(".pristine")


def one_run(folder: Path, module: Path | None) -> dict:
    from curate.store import CorpusLayout

    shutil.copyfile(pristine(folder), CorpusLayout(folder).gold)
    result = subprocess.run([sys.executable, "-c", CHILD, str(folder), str(module or "")], capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(result.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--compare-with", default="cf39c58", help="a commit whose GoldStore runs beside this one ('' for none)")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    folder = generated(args.workdir, args.records)
    versions: dict[str, Path | None] = {"lazy": None}
    if args.compare_with:
        old = folder / f"gold_{args.compare_with}.py"
        old.write_bytes(subprocess.run(["git", "show", f"{args.compare_with}:curate/store/gold.py"], cwd=ROOT, capture_output=True, check=True).stdout)
        versions["compared"] = old
    runs: dict[str, list[dict]] = {name: [] for name in versions}
    for _ in range(args.runs):
        for name, module in versions.items():
            runs[name].append(one_run(folder, module))
    figures: dict = {"records": args.records, "runs": args.runs, "gold_mb": round(pristine(folder).stat().st_size / 2**20, 1)}
    for name, results in runs.items():
        for field in ("open_s", "put_s", "next_put_s"):
            figures[f"{name}_{field}"] = round(statistics.median(result[field] for result in results), 3)
        for field in ("corpus_peak_rss_mb", "peak_rss_mb", "rss_after_open_mb"):
            figures[f"{name}_{field}"] = round(statistics.median(result[field] for result in results), 1)
        assert all(result["records"] == args.records for result in results), name
    if "compared" in runs:
        figures["compared_with"] = args.compare_with
        figures["same_gold_bytes"] = len({result["gold_sha256"] for results in runs.values() for result in results}) == 1
        for field in ("open_s", "put_s", "next_put_s"):
            figures[f"{field}_ratio"] = round(figures[f"lazy_{field}"] / figures[f"compared_{field}"], 3)
        figures["peak_above_corpus_mb"] = {name: round(figures[f"{name}_peak_rss_mb"] - figures[f"{name}_corpus_peak_rss_mb"], 1) for name in runs}
    figures["pristine_sha256"] = hashlib.sha256(pristine(folder).read_bytes()).hexdigest()[:16]
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
