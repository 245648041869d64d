"""Check that this checkout's `curate export` writes what another checkout's writes.

Builds three corpora (the export tests' awkward-text pages with two annotators and gold, the
bench's synthetic pages with gold, a copy of corpora/demo exported from one annotator's
journal), exports each in every format with and without the near-duplicate grouping, once
with this checkout and once with `--before DIR` (a folder holding another checkout's curate/,
e.g. from `git archive HEAD curate | tar -x -C DIR`), and compares the outputs: every file's
bytes, except parquet files, whose tables (schema with its metadata, and every value) must be
equal. Prints one JSON object; exits 1 when any export differs.

    .venv/bin/python scripts/check_export_same.py --before /tmp/export-before [--pages 4000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchkit import folder_differences

ROOT = Path(__file__).resolve().parents[1]
FORMATS = ("hf", "conll", "spacy", "jsonl", "prodigy", "doccano", "labelstudio")


def build(folder: Path, pages: int) -> list[tuple[str, Path, str]]:
    """(name, corpus folder, source) of the three corpora."""
    sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "scripts")]
    import bench_export
    import export_fixtures

    (folder / "awkward").mkdir()
    (folder / "synthetic").mkdir()
    (folder / "demo").mkdir()
    return [
        ("awkward", export_fixtures.build_corpus(folder / "awkward", pages=300), "gold"),
        ("synthetic", bench_export.build_full_corpus(pages, folder / "synthetic"), "gold"),
        ("demo", export_fixtures.demo_corpus(folder / "demo"), "demo"),
    ]


def export_all(corpus: str, source: str, out: str) -> None:
    """In a child process: every format with and without dedup, into out/<format>-<dedup>."""
    from curate.export import export_corpus

    for fmt in FORMATS:
        for dedup in (True, False):
            export_corpus(corpus, Path(out) / f"{fmt}-{'dedup' if dedup else 'plain'}", source=source, fmt=fmt, dedup=dedup)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="a folder holding another checkout's curate/ package")
    parser.add_argument("--ours", type=Path, default=ROOT, help="the folder holding the curate/ to check (default: this checkout)")
    parser.add_argument("--pages", type=int, default=4000, help="synthetic pages (3 stories each; over 8,192 stories in train crosses a row group)")
    parser.add_argument("--export-all", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export_all:
        export_all(*args.export_all)
        return 0
    folder = Path(tempfile.mkdtemp(prefix="curate-check-export-", dir="/tmp"))
    result: dict = {"exports": 0, "differences": []}
    try:
        for name, corpus, source in build(folder, args.pages):
            for label, root in (("ours", args.ours.resolve()), ("before", args.before.resolve())):
                environment = dict(os.environ, PYTHONPATH=str(root), HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1")
                subprocess.run([sys.executable, __file__, "--before", str(args.before), "--export-all", str(corpus), source, str(folder / label / name)], check=True, env=environment)
            for fmt in FORMATS:
                for dedup in ("dedup", "plain"):
                    result["exports"] += 1
                    result["differences"] += [f"{name}/{fmt}-{dedup}/{text}" for text in folder_differences(folder / "ours" / name / f"{fmt}-{dedup}", folder / "before" / name / f"{fmt}-{dedup}")]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result["same"] = not result["differences"]
    print(json.dumps(result, indent=2))
    return 0 if result["same"] else 1


if __name__ == "__main__":
    sys.exit(main())
