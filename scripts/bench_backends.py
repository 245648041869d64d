"""Benchmark `curate suggest --entities hf:...` and `gliner:...` on the CPU; prints one JSON object.

Nothing is downloaded: the models are built here with random weights at the sizes of the usual
ones (hf: a BERT-base token classifier, 12 layers of 768, like dslim/bert-base-NER; gliner: a
6-layer, 768-wide BERT backbone, about GLiNER small's), with a WordPiece vocabulary learned from
the pages themselves. Their entities are noise, so only speed is measured: characters per second
of a whole `run_suggest` over the Reuters dev pages, beside en_core_web_sm (the anchor) in the same run,
and of the hf back end's own predict beside the transformers pipeline on the paragraphs of four pages.

Usage: python scripts/bench_backends.py [--bench ../shared/bench] [--pages 55] [--parts suggest,predict,long]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

HERE = Path(__file__).resolve().parent
DEFAULT_BENCH = HERE.parent.parent / "shared" / "bench"
LABELS = ["PER", "ORG", "LOC", "MISC"]
TAGS = ["O"] + [f"{position}-{label}" for label in LABELS for position in ("B", "I")]


def read_pages(bench: Path, count: int) -> list[dict]:
    with (bench / "reuters-pages-dev" / "snippets.jsonl").open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()][:count]


def wordpiece_tokenizer(texts: list[str], max_length: int):
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors, trainers
    from tokenizers.models import WordPiece
    from transformers import PreTrainedTokenizerFast

    model = Tokenizer(WordPiece(unk_token="[UNK]"))
    model.normalizer = normalizers.BertNormalizer(lowercase=False)
    model.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    model.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=8000, special_tokens=specials))
    cls, sep = model.token_to_id("[CLS]"), model.token_to_id("[SEP]")
    model.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    return PreTrainedTokenizerFast(tokenizer_object=model, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]", model_max_length=max_length)


def build_hf(folder: Path, texts: list[str], layers: int) -> Path:
    import torch
    from transformers import BertConfig, BertForTokenClassification

    tokenizer = wordpiece_tokenizer(texts, 512)
    config = BertConfig(vocab_size=len(tokenizer), num_hidden_layers=layers, id2label=dict(enumerate(TAGS)), label2id={tag: index for index, tag in enumerate(TAGS)})
    torch.manual_seed(0)
    BertForTokenClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_gliner(folder: Path, backbone: Path) -> Path:
    import torch
    from gliner import GLiNER, GLiNERConfig

    torch.manual_seed(0)
    GLiNER.from_config(GLiNERConfig(model_name=str(backbone)), backbone_from_pretrained=True, local_files_only=True).save_pretrained(folder)
    return folder


def suggest_speed(pages: list[dict], work: Path, entities: str) -> dict:
    from curate.ingest import ingest
    from curate.store import Corpus
    from curate.suggest.service import SuggestOptions, run_suggest

    source = work / f"pages-{len(list(work.iterdir()))}.jsonl"
    source.write_text("".join(json.dumps({"id": page["id"], "text": page["text"]}) + "\n" for page in pages), encoding="utf-8")
    corpus_dir = work / f"corpus-{source.stem}"
    ingest([source], corpus_dir, labels=LABELS)
    characters = sum(len(page["text"]) for page in pages)
    with Corpus.open(corpus_dir) as corpus:
        started = time.perf_counter()
        report = run_suggest(corpus, SuggestOptions(entities=entities, boundaries="auto"))
        seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 2), "chars_per_second": round(characters / seconds), "written": report.written}


def predict_speed(pages: list[dict], model: Path) -> dict:
    """Characters per second of the hf back end's predict and of the transformers pipeline (aggregation
    "first", batches of 16) on the same paragraphs, each timed once after a warm-up on the first page."""
    from transformers import pipeline

    from curate.suggest.entities import load_ner
    from curate.text import TextModel

    paragraphs = [model_text.text[paragraph.start : paragraph.end] for page in pages for model_text in [TextModel(page["text"])] for paragraph in model_text.paragraphs]
    characters = sum(map(len, paragraphs))
    backend, _ = load_ner(f"hf:{model}")
    reference = pipeline("token-classification", model=str(model), aggregation_strategy="first", device=-1)
    backend.predict(paragraphs[:20])
    reference(paragraphs[:20], batch_size=16)
    started = time.perf_counter()
    backend.predict(paragraphs)
    ours = time.perf_counter() - started
    started = time.perf_counter()
    reference(paragraphs, batch_size=16)
    theirs = time.perf_counter() - started
    return {"paragraphs": len(paragraphs), "curate_chars_per_second": round(characters / ours), "pipeline_chars_per_second": round(characters / theirs), "curate_vs_pipeline": round(theirs / ours, 3)}


def long_page_speed(pages: list[dict], model: Path, length: int = 50_000) -> dict:
    """Characters per second of the hf back end's predict on one page of `length` characters (the
    dev pages run together) and on the same text as its separate pages: a long page is read in
    overlapping windows whose words are merged, which must not cost more than the pages apart
    (the merge was quadratic in the page's words: 66 s of a 50,000-character page)."""
    from curate.suggest.backends import hf
    from curate.suggest.entities import load_ner

    parts: list[str] = []
    while sum(map(len, parts)) < length:
        parts.extend(page["text"] for page in pages)
    long_page = "\n\n".join(parts)[:length]
    pieces = [long_page[start : start + 2_000] for start in range(0, len(long_page), 2_000)]
    backend, _ = load_ner(f"hf:{model}")
    backend.predict(pieces[:2])
    started = time.perf_counter()
    backend.predict(pieces)
    apart = time.perf_counter() - started
    merged = 0.0
    merge = hf.merge_windows

    def timed_merge(words):
        nonlocal merged
        begun = time.perf_counter()
        try:
            return merge(words)
        finally:
            merged += time.perf_counter() - begun

    hf.merge_windows = timed_merge
    try:
        started = time.perf_counter()
        backend.predict([long_page])
        whole = time.perf_counter() - started
    finally:
        hf.merge_windows = merge
    return {
        "characters": len(long_page),
        "one_page_chars_per_second": round(len(long_page) / whole),
        "pieces_of_2000_chars_per_second": round(len(long_page) / apart),
        "one_page_vs_pieces": round(apart / whole, 3),
        "merge_seconds": round(merged, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", type=Path, default=DEFAULT_BENCH)
    parser.add_argument("--pages", type=int, default=55)
    parser.add_argument("--parts", default="suggest,predict,long", help="which measurements, comma-separated: suggest, predict, long")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    pages = read_pages(args.bench, args.pages)
    import torch

    result: dict = {"pages": len(pages), "characters": sum(len(page["text"]) for page in pages), "torch_threads": torch.get_num_threads(), "device": "cuda" if torch.cuda.is_available() else "cpu"}
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        texts = [page["text"] for page in pages]
        hf_model = build_hf(work / "hf-bert-base", texts, 12)
        if "suggest" in parts:
            backbone = build_hf(work / "bert-6-layers", texts, 6)
            gliner_model = build_gliner(work / "gliner", backbone)
            runs = work / "runs"
            runs.mkdir()
            result["en_core_web_sm"] = suggest_speed(pages, runs, "en_core_web_sm")
            result["hf_bert_base_random"] = suggest_speed(pages, runs, f"hf:{hf_model}")
            result["gliner_bert6_random"] = suggest_speed(pages, runs, f"gliner:{gliner_model}")
            anchor = result["en_core_web_sm"]["chars_per_second"]
            for name in ("hf_bert_base_random", "gliner_bert6_random"):
                result[name]["vs_en_core_web_sm"] = round(result[name]["chars_per_second"] / anchor, 3)
        if "predict" in parts:
            result["hf_predict_vs_transformers_pipeline"] = predict_speed(pages[:4], hf_model)
        if "long" in parts:
            result["hf_long_page"] = long_page_speed(pages, hf_model)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
