"""Write the JSON Schema of every record model into schemas/ (run after changing curate/model.py).

    python scripts/gen_schemas.py           # write schemas/*.schema.json
    python scripts/gen_schemas.py --check   # exit 1 if schemas/ differs from the models
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from curate.model import MODELS_WITH_SCHEMAS

SCHEMAS_DIR = Path(__file__).resolve().parent.parent / "schemas"


def schema_files() -> dict[str, str]:
    """File name -> JSON text, for every model in MODELS_WITH_SCHEMAS."""
    files = {}
    for name, model in MODELS_WITH_SCHEMAS.items():
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **model.model_json_schema()}
        files[f"{name}.schema.json"] = json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    return files


def drift(directory: Path = SCHEMAS_DIR) -> list[str]:
    """What differs between `directory` and the models: missing, changed and stale files."""
    expected = schema_files()
    problems = []
    for name, text in expected.items():
        path = directory / name
        if not path.exists():
            problems.append(f"{path}: missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{path}: differs from curate.model")
    for path in sorted(directory.glob("*.schema.json")):
        if path.name not in expected:
            problems.append(f"{path}: no model has this schema any more")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report drift; exit 1 if any")
    args = parser.parse_args()
    if args.check:
        problems = drift()
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("run: python scripts/gen_schemas.py", file=sys.stderr)
        return 1 if problems else 0
    SCHEMAS_DIR.mkdir(exist_ok=True)
    expected = schema_files()
    for name, text in expected.items():
        (SCHEMAS_DIR / name).write_text(text, encoding="utf-8")
    for path in SCHEMAS_DIR.glob("*.schema.json"):
        if path.name not in expected:
            path.unlink()
    print(f"wrote {len(expected)} schema(s) to {SCHEMAS_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
