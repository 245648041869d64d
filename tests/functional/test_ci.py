""".ci/run installs and tests in a fresh clone of HEAD, leaving the working checkout alone.

Driven with a stand-in `python3` on PATH whose venv has stand-in `pip`, `curate`, `python` and `ruff`
that only record where and how they ran, so the test takes a second and needs no network.
"""

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

FAKE_PYTHON3 = """#!/usr/bin/env bash
# `python3 -m venv .venv`: a venv whose tools only log what they were asked.
set -eu
[ "$1 $2 $3" = "-m venv .venv" ] || { echo "unexpected python3 $*" >&2; exit 3; }
mkdir -p .venv/bin
for tool in pip curate python ruff; do
    printf '#!/usr/bin/env bash\\necho "%s $* in $PWD" >> "$CI_LOG"\\n' "$tool" > .venv/bin/$tool
    chmod +x .venv/bin/$tool
done
echo "python3 $* in $PWD" >> "$CI_LOG"
stat -c %a "$(dirname "$PWD")" > "$(dirname "$CI_LOG")/mode"
"""


def git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_ci_runs_the_readme_commands_in_a_fresh_clone_and_keeps_the_checkout(tmp_path):
    checkout = tmp_path / "checkout"
    (checkout / ".ci").mkdir(parents=True)
    shutil.copy(ROOT / ".ci" / "run", checkout / ".ci" / "run")
    shutil.copy(ROOT / "README.md", checkout / "README.md")
    git(checkout, "init", "-q")
    git(checkout, "add", ".")
    git(checkout, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "x")
    (checkout / ".venv").mkdir()
    (checkout / ".venv" / "keep").write_text("the developer's venv")
    (checkout / "uncommitted.txt").write_text("work in progress")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").write_text(FAKE_PYTHON3)
    (bin_dir / "python3").chmod(0o755)
    temp = tmp_path / "temp"
    temp.mkdir()
    log = tmp_path / "log"
    env = os.environ | {"PATH": f"{bin_dir}:{os.environ['PATH']}", "CI_LOG": str(log), "TMPDIR": str(temp)}
    result = subprocess.run([str(checkout / ".ci" / "run")], cwd=checkout, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert (checkout / ".venv" / "keep").read_text() == "the developer's venv"
    assert (checkout / "uncommitted.txt").exists()
    lines = log.read_text().splitlines()
    clone = lines[0].rsplit(" in ", 1)[1]
    contributors = next(line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("Contributors")).split("`")[1]
    extras = [step.replace(".venv/bin/", "").replace("'", "") for step in contributors.split(" && ")]
    assert extras[0].startswith("pip install torch==") and extras[1].startswith("pip install -e .[dev,transformers,gliner")
    assert clone.startswith(str(temp)) and Path(clone).name == "curate"
    assert [line.rsplit(" in ", 1)[0] for line in lines] == [
        "python3 -m venv .venv", "pip install -e .[dev]", "curate --version", "curate stats corpora/demo", *extras, "ruff check", "python -m pytest",
    ]
    assert all(line.endswith(f" in {clone}") for line in lines)
    assert (tmp_path / "mode").read_text().split() == ["755"]  # other users (tests run as nobody) reach the clone
    assert list(temp.iterdir()) == []  # the clone is removed afterwards


def test_ci_refuses_a_readme_without_its_setup_command(tmp_path):
    checkout = tmp_path / "checkout"
    (checkout / ".ci").mkdir(parents=True)
    shutil.copy(ROOT / ".ci" / "run", checkout / ".ci" / "run")
    (checkout / "README.md").write_text("# x\n\n```bash\nmake\n```\n")
    result = subprocess.run([str(checkout / ".ci" / "run")], cwd=checkout, capture_output=True, text=True, timeout=60, env=os.environ | {"TMPDIR": str(tmp_path)})
    assert result.returncode == 2
    assert "README's first command" in result.stderr


def test_ci_refuses_a_readme_without_the_contributors_install_line(tmp_path):
    checkout = tmp_path / "checkout"
    (checkout / ".ci").mkdir(parents=True)
    shutil.copy(ROOT / ".ci" / "run", checkout / ".ci" / "run")
    readme = (ROOT / "README.md").read_text()
    without = "\n".join(line for line in readme.splitlines() if not line.startswith("Contributors"))
    for text in (without, readme.replace("pip install -e '.[dev,", "pip install -e '.[")):
        (checkout / "README.md").write_text(text)
        result = subprocess.run([str(checkout / ".ci" / "run")], cwd=checkout, capture_output=True, text=True, timeout=60, env=os.environ | {"TMPDIR": str(tmp_path)})
        assert result.returncode == 2
        assert "'Contributors'" in result.stderr
