"""Check that this checkout's `curate agreement` reports what another checkout's reports.

Builds two corpora: the agreement bench's synthetic one (--snippets, default 30,000: above the
size at which reading and comparing are done by two processes) and a small awkward one (texts
that are not plain, records saved for another text, labels and kinds not in corpus.toml,
skipped records, an annotator with nothing done), which is also compared read in shares of 7
snippets by two processes. For each, with this checkout and with `--before DIR` (a folder
holding another checkout's curate/, e.g. from `git archive HEAD curate | tar -x -C DIR`), it
writes every output of the command: the --json object, the text tables, the --report
Markdown page with its SVG picture, the HTML page, and the ranking, stale ids, confusion
matrix and left-out annotators as Python reprs (every float in full). Then it compares the
files byte for byte. Prints one JSON object; exits 1 when any output differs.

    .venv/bin/python scripts/check_agreement_same.py --before /tmp/agreement-before [--snippets 30000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchkit import folder_differences

ROOT = Path(__file__).resolve().parents[1]


def awkward_corpus(folder: Path) -> Path:
    """A small corpus with every case the fast paths treat apart."""
    from curate.ingest import ingest
    from curate.model import Annotation, text_sha256
    from curate.store import Corpus

    rng = random.Random(23)
    words = "Ana Lopez met Ben in Lanport . the harbour plan was late , and the council voted 1,703 U.S. e-mail".split()
    texts = {}
    for number in range(300):
        lines = [" ".join(rng.choices(words, k=rng.randint(2, 12))) for _ in range(rng.randint(1, 5))]
        if number % 9 == 0:
            lines.append("Caf\u00e9 d\u00e9ja\u0300 \U0001F600 Lanport\u200b")
        if number % 13 == 0:
            lines.insert(1, "   ")
        texts[f"s{number:03d}"] = ("\r\n" if number % 11 == 0 else "\n").join(lines)
    source = folder / "in.jsonl"
    source.write_text("".join(json.dumps({"id": snippet_id, "text": text}) + "\n" for snippet_id, text in texts.items()))
    ingest([source], folder / "awkward", labels=["PERSON", "GPE"])
    with Corpus.open(folder / "awkward") as corpus:
        for name in ("ana", "ben", "cy", "dee"):
            with corpus.journal(name, writable=True) as journal:
                for snippet_id, text in texts.items():
                    if rng.random() < 0.15 or (name == "dee" and rng.random() < 0.9):
                        continue
                    starts = sorted({cut for cut in range(1, len(text)) if text[cut - 1] == "\n" and rng.random() < 0.5})
                    edges = [0, *starts, len(text)]
                    entities, boilerplate = [], []
                    for start in sorted(rng.sample(range(len(text)), min(6, len(text)))):
                        end = min(len(text), start + rng.randint(1, 12))
                        if not (entities and start < entities[-1]["end"]) and not any(start < cut < end for cut in starts):
                            entities.append({"start": start, "end": end, "label": rng.choice(["PERSON", "GPE", "ORG", "EVENT"])})
                    if starts and rng.random() < 0.6:
                        boilerplate.append({"start": starts[-1], "end": len(text), "kind": rng.choice(["caption", "byline", "promo"])})
                    done = "skipped" if name == "dee" else ("done" if rng.random() < 0.9 else "skipped")
                    journal.append(Annotation.model_validate({
                        "snippet_id": snippet_id, "annotator": name, "status": done,
                        "text_sha256": text_sha256(text if rng.random() < 0.93 else text + "!"),
                        "stories": [{"start": s, "end": e, "truncated": rng.random() < 0.2} for s, e in zip(edges, edges[1:])],
                        "entities": entities, "boilerplate": boilerplate,
                    }))
    return folder / "awkward"


def write_outputs(corpus_dir: str, out: str, shares: int) -> None:
    """In a child process: every output of the agreement of ``corpus_dir`` into ``out``."""
    from rich.console import Console

    from curate.agreement import agreement, service
    from curate.agreement.render import render
    from curate.agreement.report import write_report
    from curate.store import Corpus

    if shares:
        service.PARALLEL_MIN_SNIPPETS = 0
        service.READ_CHUNK_SNIPPETS = shares
    folder = Path(out)
    folder.mkdir(parents=True)
    with Corpus.open(corpus_dir) as corpus:
        report = agreement(corpus, ranking_size=40)
    (folder / "report.json").write_text(json.dumps(report.to_json(), ensure_ascii=False))
    with (folder / "report.txt").open("w") as handle:
        Console(file=handle, width=140, color_system=None, force_terminal=False).print(render(report))
    write_report(report, folder / "report.md")
    write_report(report, folder / "report.html")
    (folder / "extra.txt").write_text("\n".join(repr(value) for value in (
        report.ranking, report.stale, report.confusion().tolist(), report.left_out, report.unshared, report.labels, report.kinds,
    )))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, required=True, help="a folder holding another checkout's curate/ package")
    parser.add_argument("--snippets", type=int, default=30_000, help="snippets of the synthetic corpus (default 30000)")
    parser.add_argument("--write-outputs", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write_outputs:
        corpus_dir, out, shares = args.write_outputs
        write_outputs(corpus_dir, out, int(shares))
        return 0
    sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]
    import bench_agreement

    folder = Path(tempfile.mkdtemp(prefix="curate-check-agreement-", dir="/tmp"))
    result: dict = {"reports": 0, "files": 0, "differences": []}
    try:
        (folder / "synthetic").mkdir()
        bench_agreement.generate(folder / "synthetic", args.snippets, 3)
        cases = [("synthetic", folder / "synthetic" / "corpus", 0), ("awkward", awkward_corpus(folder), 0), ("awkward-shares", folder / "awkward", 7)]
        for name, corpus, shares in cases:
            for label, root in (("ours", ROOT), ("before", args.before.resolve())):
                environment = dict(os.environ, PYTHONPATH=str(root))
                subprocess.run([sys.executable, __file__, "--before", str(args.before), "--write-outputs", str(corpus), str(folder / label / name), str(shares)], check=True, env=environment)
            result["reports"] += 1
            result["files"] += sum(1 for path in (folder / "ours" / name).rglob("*") if path.is_file())
            result["differences"] += [f"{name}/{text}" for text in folder_differences(folder / "ours" / name, folder / "before" / name)]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result["same"] = not result["differences"]
    print(json.dumps(result, indent=2))
    return 0 if result["same"] else 1


if __name__ == "__main__":
    sys.exit(main())
