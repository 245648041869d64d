"""schemas/ is generated from curate.model by scripts/gen_schemas.py and must not drift."""

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[2]


def load_generator():
    spec = importlib.util.spec_from_file_location("gen_schemas", ROOT / "scripts" / "gen_schemas.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_checked_in_schemas_match_the_models():
    generator = load_generator()
    assert generator.drift() == [], "schemas/ drifted from curate/model.py: run python scripts/gen_schemas.py"
    names = {path.name for path in (ROOT / "schemas").glob("*.schema.json")}
    assert names == {"snippet.schema.json", "annotation.schema.json", "gold_annotation.schema.json", "corpus_config.schema.json"}


def test_a_changed_model_is_reported_as_drift(tmp_path, monkeypatch):
    generator = load_generator()
    shutil.copytree(ROOT / "schemas", tmp_path / "schemas")

    class Snippet(BaseModel):
        id: str
        text: str
        source_url: str  # a field the checked-in schema does not know

    monkeypatch.setitem(generator.MODELS_WITH_SCHEMAS, "snippet", Snippet)
    monkeypatch.setitem(generator.MODELS_WITH_SCHEMAS, "extra", Snippet)
    (tmp_path / "schemas" / "retired.schema.json").write_text("{}")
    assert sorted(generator.drift(tmp_path / "schemas")) == [
        f"{tmp_path / 'schemas' / 'extra.schema.json'}: missing",
        f"{tmp_path / 'schemas' / 'retired.schema.json'}: no model has this schema any more",
        f"{tmp_path / 'schemas' / 'snippet.schema.json'}: differs from curate.model",
    ]


def test_the_schema_describes_the_records():
    schema = json.loads((ROOT / "schemas" / "annotation.schema.json").read_text())
    assert set(schema["required"]) == {"snippet_id", "annotator", "stories"}
    assert schema["additionalProperties"] is False
    assert {"Story", "Entity", "BoilerplateRange"} <= set(schema["$defs"])


def test_the_check_mode_passes_on_the_checked_in_schemas(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_schemas.py"), "--check"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_the_config_schema_says_split_and_annotator_names_are_safe_file_names():
    import re

    from curate.model import SAFE_NAME_PATTERN

    properties = json.loads((ROOT / "schemas" / "corpus_config.schema.json").read_text())["properties"]
    patterns = [properties["splits"]["propertyNames"]["pattern"], properties["annotators"]["items"]["pattern"]]
    assert patterns == [f"^{SAFE_NAME_PATTERN}$"] * 2
    for name in ("../victim", "/abs/path", "a/../../b", ".."):
        assert not re.search(patterns[0], name)
    assert re.search(patterns[0], "validation")
