"""`curate suggest --entities hf:...` and `gliner:...`: tiny models built here, nothing downloaded.

Two Hugging Face models are made in the test from a WordPiece vocabulary: one with random
weights (compared with the transformers pipeline, the reference), and one whose weights are set
so each word's label depends on the word alone (no layers, no position embeddings), so the right
entities of a long text are known and the windows' merging can be checked exactly. A tiny GLiNER
is built from the random one as its backbone (GLiNER.from_config, no download) and saved.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import pytest
import torch
from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
from tokenizers.models import WordPiece
from transformers import BertConfig, BertForTokenClassification, PreTrainedTokenizerFast, pipeline
from typer.testing import CliRunner

from curate.cli import app
from curate.ingest import ingest
from curate.model import Annotation, annotation_problems
from curate.store import Corpus
from curate.suggest.backends import SpanBackend, device_name, hf
from curate.suggest.backends import gliner as gliner_backend
from curate.suggest.entities import derive_label_map, load_ner, propose_entities
from curate.suggest.gazetteer import Gazetteer
from curate.suggest.service import SuggestError, SuggestOptions, run_suggest
from curate.text import TextModel

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = "the a of in said on and to at john smith mary acme corp paris london reuters ##s ##ing , . - ( )".split()
TAGS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
# The designed model's label of each word (the rest are O).
WORD_TAGS = {"john": "B-PER", "mary": "B-PER", "smith": "I-PER", "acme": "B-ORG", "corp": "I-ORG", "paris": "B-LOC", "london": "B-LOC"}
SENTENCE = "John Smith said in Paris , acme corp . and Mary of London said the johns ."


def tokenizer(max_length: int) -> PreTrainedTokenizerFast:
    vocab = {word: index for index, word in enumerate(SPECIALS + WORDS)}
    model = Tokenizer(WordPiece(vocab, unk_token="[UNK]"))
    model.normalizer = normalizers.BertNormalizer(lowercase=True)
    model.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    model.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    return PreTrainedTokenizerFast(tokenizer_object=model, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]", model_max_length=max_length)


def bert_config(hidden: int, layers: int) -> BertConfig:
    return BertConfig(
        vocab_size=len(SPECIALS) + len(WORDS),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=2 * hidden,
        max_position_embeddings=64,
        id2label=dict(enumerate(TAGS)),
        label2id={tag: index for index, tag in enumerate(TAGS)},
    )


@pytest.fixture(scope="module")
def random_model(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hf-random")
    torch.manual_seed(0)
    BertForTokenClassification(bert_config(16, 1)).save_pretrained(folder)
    tokenizer(64).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def word_model(tmp_path_factory) -> Path:
    """Each word's tag is WORD_TAGS's, whatever surrounds it; windows of 12 tokens."""
    folder = tmp_path_factory.mktemp("hf-words")
    size = len(SPECIALS) + len(WORDS)
    model = BertForTokenClassification(bert_config(size, 0))
    with torch.no_grad():
        embeddings = model.bert.embeddings
        embeddings.word_embeddings.weight.copy_(10 * torch.eye(size))
        embeddings.position_embeddings.weight.zero_()
        embeddings.token_type_embeddings.weight.zero_()
        model.classifier.weight.zero_()
        model.classifier.bias.zero_()
        for word, index in {word: index for index, word in enumerate(SPECIALS + WORDS)}.items():
            model.classifier.weight[TAGS.index(WORD_TAGS.get(word, "O")), index] = 1.0
    model.save_pretrained(folder)
    tokenizer(12).save_pretrained(folder)
    return folder


def expected_entities(text: str) -> list[tuple[int, int, str]]:
    """What the word model must find: WORD_TAGS over whole words, "johns" (john ##s) a PER by its first piece."""
    found: list[list] = []
    for match in re.finditer(r"\w+|[^\w\s]", text):
        tag = WORD_TAGS.get(match.group().lower(), "O")
        if match.group().lower() == "johns":
            tag = "B-PER"
        if tag.startswith("B-"):
            found.append([match.start(), match.end(), tag[2:]])
        elif tag.startswith("I-") and found and found[-1][1] == match.start() - 1 and found[-1][2] == tag[2:]:
            found[-1][1] = match.end()
    return [tuple(item) for item in found]


def test_hf_model_reads_like_the_transformers_pipeline(random_model: Path) -> None:
    backend, source = load_ner(f"hf:{random_model}")
    assert isinstance(backend, SpanBackend) and source.name == f"hf:{random_model.name}" and len(source.version) == 12
    texts = [SENTENCE, "Mary Smith of acme corp at London .", "reuters said"]
    reference = pipeline("token-classification", model=str(random_model), aggregation_strategy="first", device=-1)
    expected = [[(item["start"], item["end"], item["entity_group"]) for item in found] for found in reference(texts)]
    assert sum(map(len, expected)) >= 3  # random weights still tag something
    assert backend.predict(texts) == expected


def test_hf_long_text_is_read_in_overlapping_windows(word_model: Path) -> None:
    backend, _ = load_ner(f"hf:{word_model}")
    assert backend.max_length == 12 and backend.stride == 2
    text = " ".join([SENTENCE] * 12)
    found = backend.predict([text, SENTENCE])
    assert found[0] == expected_entities(text) and len(found[0]) == 12 * 6
    assert found[1] == expected_entities(SENTENCE)
    # the same with one window per forward pass, and more tokens in common between windows
    narrow = hf.HfTokenClassifier(backend.model, backend.tokenizer, torch, stride=5, batch_size=1)
    assert narrow.predict([text]) == [expected_entities(text)]
    backend.tokenizer.padding_side = "left"  # windows of unlike length padded on the other side
    assert backend.predict([SENTENCE, text, "Mary"]) == [expected_entities(SENTENCE), expected_entities(text), [(0, 4, "PER")]]


def brute_force_merge(words: list[hf.Word]) -> list[tuple[int, int, int]]:
    """merge_windows's rule written the plain way: most central first, a word overlapping a kept one is dropped."""
    kept: list[hf.Word] = []
    for word in sorted(words, key=lambda word: (-word.centrality, word.start)):
        if not any(other.start < word.end and word.start < other.end for other in kept):
            kept.append(word)
    return sorted((word.start, word.end, word.centrality) for word in kept)


def test_merge_windows_keeps_what_the_plain_rule_keeps() -> None:
    rng = random.Random(7)
    for _ in range(500):
        words = []
        for _ in range(rng.randint(0, 40)):
            start = rng.randint(0, 60)
            words.append(hf.Word(start, start + rng.randint(0, 6), "O", rng.randint(0, 8)))
        merged = [(word.start, word.end, word.centrality) for word in hf.merge_windows(words)]
        assert merged == brute_force_merge([word for word in words if word.end > word.start])  # no empty word is kept


def test_hf_reads_a_50000_character_page_whole(word_model: Path) -> None:
    # windows of 12 tokens over ~12,000 words: merging them compared every word with every kept
    # one (minutes for this page); now a bisection each
    backend, _ = load_ner(f"hf:{word_model}")
    text = (SENTENCE + " ") * (50_000 // (len(SENTENCE) + 1))
    assert backend.predict([text]) == [expected_entities(text)]


def test_hf_entities_land_on_curate_tokens_in_corpus_labels(word_model: Path) -> None:
    backend, _ = load_ner(f"hf:{word_model}")
    text = "John Smith's deal: Acme Corp\n\nin Paris, said Mary.\n"
    label_map = derive_label_map(["PERSON", "ORG", "GPE"])
    [entities] = propose_entities([TextModel(text)], backend, label_map, Gazetteer())
    assert [(text[entity.start : entity.end], entity.label) for entity in entities] == [("John Smith", "PERSON"), ("Acme Corp", "ORG"), ("Paris", "GPE"), ("Mary", "PERSON")]


def test_group_words_follows_the_pipelines_rules() -> None:
    words = [hf.Word(index * 2, index * 2 + 1, tag, 0) for index, tag in enumerate(["B-PER", "I-PER", "B-PER", "I-ORG", "ORG", "O", "I-LOC", "S-LOC", "E-LOC"])]
    assert hf.group_words(words) == [(0, 3, "PER"), (4, 5, "PER"), (6, 9, "ORG"), (12, 13, "LOC"), (14, 17, "LOC")]


def test_a_gpu_is_used_when_torch_sees_one() -> None:
    class FakeCuda:
        def __init__(self, present: bool) -> None:
            self.present = present

        def is_available(self) -> bool:
            return self.present

    class FakeTorch:
        def __init__(self, present: bool) -> None:
            self.cuda = FakeCuda(present)

    assert device_name(FakeTorch(True)) == "cuda" and device_name(FakeTorch(False)) == "cpu"
    assert device_name(torch) == ("cuda" if torch.cuda.is_available() else "cpu")


# ---------------------------------------------------------------- GLiNER


@pytest.fixture(scope="module")
def gliner_model(tmp_path_factory, random_model: Path) -> Path:
    from gliner import GLiNER, GLiNERConfig

    torch.manual_seed(0)
    config = GLiNERConfig(model_name=str(random_model), hidden_size=16, max_width=4, max_len=20, dropout=0.0)
    model = GLiNER.from_config(config, backbone_from_pretrained=False, local_files_only=True)
    folder = tmp_path_factory.mktemp("gliner")
    model.save_pretrained(folder)
    return folder


def test_gliner_prompts_come_from_the_corpus_labels_and_the_label_map() -> None:
    labels = ["PER", "ORG", "LOC", "MISC", "SHIP_NAME"]
    assert gliner_backend.label_prompts(derive_label_map(labels)) == {"person": "PER", "organization": "ORG", "location": "LOC", "other named entity": "MISC", "ship name": "SHIP_NAME"}
    changed = derive_label_map(labels, {"company": "ORG", "MISC": "", "vessel": "SHIP_NAME"})
    assert gliner_backend.label_prompts(changed) == {"person": "PER", "organization": "ORG", "location": "LOC", "ship name": "SHIP_NAME", "company": "ORG", "vessel": "SHIP_NAME"}


def test_gliner_windows_cover_the_text_once() -> None:
    text = " ".join(f"w{number}" for number in range(50))
    parts = gliner_backend.windows(text, size=10, overlap=4)
    words = [match.span() for match in re.finditer(r"\S+", text)]
    assert all(sum(1 for start, end in words if window_start <= start and end <= window_end) <= 10 for window_start, window_end, _, _ in parts)
    owned = [(start, end) for _, _, start, end in parts]
    assert owned[0][0] == 0 and owned[-1][1] == len(text) and all(end == start for (_, end), (start, _) in zip(owned, owned[1:]))
    assert all(window_start <= owned_start < owned_end <= len(text) for window_start, _, owned_start, owned_end in parts)
    assert all(owned_end <= window_end + 1 for _, window_end, _, owned_end in parts[:-1])
    assert gliner_backend.windows("one two", size=10, overlap=4) == [(0, 7, 0, 7)]
    assert gliner_backend.windows(" \n ", size=10, overlap=4) == []


def test_gliner_model_answers_in_corpus_labels_like_gliner_itself(gliner_model: Path) -> None:
    from gliner import GLiNER

    label_map = derive_label_map(["PER", "ORG", "LOC"])
    backend, source = load_ner(f"gliner:{gliner_model}", label_map=label_map)
    assert isinstance(backend, gliner_backend.GlinerModel) and source.name == f"gliner:{gliner_model.name}"
    backend.threshold = 0.0  # random weights score about 0.5: take every span, so there is much to compare
    texts = ["John Smith said in Paris , acme corp .", "Mary of London ."]
    reference = GLiNER.from_pretrained(str(gliner_model), local_files_only=True).inference(texts, ["person", "organization", "location"], flat_ner=True, threshold=0.0)
    prompts = {"person": "PER", "organization": "ORG", "location": "LOC"}
    expected = [sorted((item["start"], item["end"], prompts[item["label"]]) for item in found) for found in reference]
    assert sum(map(len, expected)) >= 3 and backend.predict(texts) == expected


def test_gliner_long_text_is_read_whole(gliner_model: Path) -> None:
    backend, _ = load_ner(f"gliner:{gliner_model}", label_map=derive_label_map(["PER", "ORG", "LOC"]))
    backend.threshold = 0.0
    assert backend.window == 20
    text = " ".join(["John Smith said in Paris , acme corp ."] * 10)  # 90 words: GLiNER alone would read 20
    found, nothing = backend.predict([text, "  "])
    assert nothing == []
    word_starts = {match.start() for match in re.finditer(r"\w+|\S", text)}
    word_ends = {match.end() for match in re.finditer(r"\w+|\S", text)}
    assert found == sorted(found) and all(start in word_starts and end in word_ends for start, end, _ in found)
    assert all(end <= start for (_, end, _), (start, _, _) in zip(found, found[1:]))  # flat: no overlaps across windows either
    assert max(start for start, _, _ in found) > len(text) * 3 // 4


# ---------------------------------------------------------------- through curate suggest


def make_corpus(tmp_path: Path, texts: list[str], labels: list[str]) -> Path:
    source = tmp_path / "source.jsonl"
    source.write_text("".join(json.dumps({"id": f"s{number}", "text": text}) + "\n" for number, text in enumerate(texts)), encoding="utf-8")
    ingest([source], tmp_path / "corpus", labels=labels)
    return tmp_path / "corpus"


PAGES = ["John Smith said in Paris on Monday that Acme Corp would grow.\n\nMary said so in London.\n", "Reuters said Mary Smith of Acme Corp was in Paris.\n"]


def test_suggest_with_a_hf_model_writes_valid_records(tmp_path: Path, word_model: Path) -> None:
    directory = make_corpus(tmp_path, PAGES, ["PERSON", "ORG", "GPE"])
    with Corpus.open(directory) as corpus:
        report = run_suggest(corpus, SuggestOptions(entities=f"hf:{word_model}", n_process=2, batch_size=1))
        config = corpus.config
    assert report.written == 2 and report.annotator.startswith(f"model:hf:{word_model.name}@")
    assert any("--n-process 2" in message for message in report.messages)  # one process for torch models
    records = [Annotation.model_validate_json(line) for line in (directory / "suggestions.jsonl").read_text().splitlines()]
    for record, text in zip(records, PAGES):
        assert annotation_problems(record, text, config, TextModel(text).token_edges) == []
    assert [(PAGES[0][entity.start : entity.end], entity.label) for entity in records[0].entities] == [("John Smith", "PERSON"), ("Paris", "GPE"), ("Acme Corp", "ORG"), ("Mary", "PERSON"), ("London", "GPE")]


def test_suggest_learns_a_crf_over_a_hf_model_and_uses_it_next_time(tmp_path: Path, word_model: Path) -> None:
    texts = [f"Mary Smith met John in {place} on Monday.\n" for place in ("Paris", "London")] * 3
    directory = make_corpus(tmp_path, texts, ["PER", "ORG", "LOC"])
    (directory / "annotations").mkdir()
    with (directory / "annotations" / "ed.jsonl").open("w") as handle:
        for number, text in enumerate(texts):
            place = text.index(" in ") + 4
            entities = [{"start": 0, "end": 10, "label": "PER"}, {"start": 15, "end": 19, "label": "PER"}, {"start": place, "end": text.index(" on "), "label": "LOC"}]
            record = {"snippet_id": f"s{number}", "annotator": "ed", "status": "done", "stories": [{"start": 0, "end": len(text), "truncated": False}], "entities": entities}
            handle.write(json.dumps(record) + "\n")
    with Corpus.open(directory) as corpus:
        learned = run_suggest(corpus, SuggestOptions(entities=f"hf:{word_model}", learn=True))
        assert "entities" in learned.learned and learned.annotator.startswith("model:corpus-crf@")
        again = run_suggest(corpus, SuggestOptions(redo=True))  # no --entities: the CRF, over the same hf model
    assert again.annotator.startswith("model:corpus-crf@")
    meta = json.loads((directory / "models" / "learned.json").read_text())
    assert meta["entities"]["model"] == f"hf:{word_model}"


def test_model_labels_without_a_corpus_label_are_named(tmp_path: Path, word_model: Path) -> None:
    directory = make_corpus(tmp_path, PAGES, ["PER", "PLACE"])
    with Corpus.open(directory) as corpus:
        report = run_suggest(corpus, SuggestOptions(entities=f"hf:{word_model}"))
        kept = run_suggest(corpus, SuggestOptions(entities=f"hf:{word_model}", label_map="LOC=PLACE"))
    assert report.messages == ["model labels ORG, LOC map to no corpus label, so their entities are left out (--label-map ORG=LABEL keeps them)"]
    assert kept.messages == ["model labels ORG map to no corpus label, so their entities are left out (--label-map ORG=LABEL keeps them)"]
    labels = [{entity.label for entity in Annotation.model_validate_json(line).entities} for line in (directory / "suggestions.jsonl").read_text().splitlines()]
    assert labels == [{"PER"}, {"PER"}, {"PER", "PLACE"}, {"PER", "PLACE"}]


def test_a_models_hostile_label_and_folder_names_reach_the_terminal_escaped(tmp_path: Path, word_model: Path) -> None:
    # a downloaded model names its own labels and folder: an escape sequence in either was printed raw
    folder = tmp_path / "evil\x1b]0;pwned\x07"
    shutil.copytree(word_model, folder)
    config = json.loads((folder / "config.json").read_text())
    config["id2label"] = {"0": "O", "1": "B-PER", "2": "I-PER", "3": "B-\x1b[2JORG", "4": "I-\x1b[2JORG", "5": "B-LOC", "6": "I-LOC"}
    config["label2id"] = {label: int(index) for index, label in config["id2label"].items()}
    (folder / "config.json").write_text(json.dumps(config))
    directory = make_corpus(tmp_path, PAGES, ["PER"])
    result = CliRunner().invoke(app, ["suggest", str(directory), "--entities", f"hf:{folder}"])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "note: model labels \\x1b[2JORG, LOC map to no corpus label" in result.stderr
    assert "pwned" in result.stdout  # the folder's name is said, escaped


@pytest.mark.parametrize("prefix", ["hf", "gliner"])
def test_a_folder_that_is_missing_or_holds_no_model_is_said_plainly(tmp_path: Path, prefix: str) -> None:
    # the libraries answered "Repo id must be in the form 'repo_name' or 'namespace/repo_name'" for
    # a folder that is not there and "Couldn't instantiate the backend tokenizer from one of:" for one
    # holding no model
    directory = make_corpus(tmp_path, PAGES, ["PER"])
    (tmp_path / "empty").mkdir()
    wanted = "config.json" if prefix == "hf" else "gliner_config.json or config.json"
    for model, reason in (
        (tmp_path / "nothing-here", "no such folder"),
        ("./nothing-here", "no such folder"),
        (tmp_path / "empty", f"the folder holds no {wanted}, so no saved model"),
        (directory / "corpus.toml", "not a folder (name the folder the model was saved in)"),
    ):
        result = CliRunner().invoke(app, ["suggest", str(directory), "--entities", f"{prefix}:{model}"])
        assert result.exit_code == 1
        assert result.output == f"error: --entities {prefix}:{model}: cannot load it: {reason}\n"


def test_a_model_folder_under_the_home_folder_is_found_through_a_tilde(tmp_path: Path, word_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `--entities hf:~/models/x`: the shell does not expand a "~" after "hf:", and the libraries took it as a Hub id
    monkeypatch.setenv("HOME", str(word_model.parent))
    backend, source = load_ner(f"hf:~/{word_model.name}")
    assert backend.predict([SENTENCE]) == [expected_entities(SENTENCE)]
    assert source.name == f"hf:{word_model.name}"


def test_fine_tuning_a_hf_model_is_refused_with_a_reason(tmp_path: Path) -> None:
    directory = make_corpus(tmp_path, PAGES, ["PER"])
    with Corpus.open(directory) as corpus:
        with pytest.raises(SuggestError, match="--entity-learner crf"):
            run_suggest(corpus, SuggestOptions(entities="hf:some/model", entity_learner="fine-tune", learn=True))


@pytest.mark.parametrize(
    ("entities", "hidden", "command"),
    [("hf:some/model", "transformers", "pip install 'curate[transformers]'"), ("gliner:some/model", "gliner", "pip install 'curate[gliner]'"), ("hf:some/model", "torch", "pip install torch")],
)
def test_a_missing_extra_is_one_line_naming_the_pip_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entities: str, hidden: str, command: str) -> None:
    directory = make_corpus(tmp_path, PAGES, ["PER"])
    monkeypatch.setitem(sys.modules, hidden, None)  # import fails as if it were not installed
    result = CliRunner().invoke(app, ["suggest", str(directory), "--entities", entities])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and command in lines[0] and "Traceback" not in result.output
    assert not (directory / "suggestions.jsonl").exists() or (directory / "suggestions.jsonl").read_text() == ""


def test_a_missing_extra_in_a_real_process_exits_without_a_traceback(tmp_path: Path) -> None:
    directory = make_corpus(tmp_path, PAGES, ["PER"])
    shadow = tmp_path / "shadow" / "transformers"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('No module named transformers', name='transformers')\n")
    env = {**os.environ, "PYTHONPATH": str(shadow.parent)}
    done = subprocess.run([str(Path(sys.executable).with_name("curate")), "suggest", str(directory), "--entities", "hf:dslim/bert-base-NER"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip().splitlines() == ["error: --entities hf:...: needs the transformers extra (transformers is not installed): pip install 'curate[transformers]'"]


@pytest.mark.parametrize("prefix", ["hf", "gliner"])
def test_a_model_that_cannot_be_loaded_is_one_line(tmp_path: Path, prefix: str, word_model: Path) -> None:
    directory = make_corpus(tmp_path, PAGES, ["PER"])
    for model in (tmp_path / "nothing-here", "nobody/no-such-model", word_model if prefix == "gliner" else tmp_path):
        result = CliRunner().invoke(app, ["suggest", str(directory), "--entities", f"{prefix}:{model}"])
        assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1, result.output
        assert result.output.startswith(f"error: --entities {prefix}:{model}: cannot load it: ")
