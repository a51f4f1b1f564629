#!/usr/bin/env python3
"""Golden references for the models `bertserve pull` makes, from
sentence-transformers (PyTorch) on the same weights.

For each model directory given (made by `bertserve pull default` and
`bertserve pull bge-small-zh`), it loads model.safetensors + config.json +
tokenizer.json with sentence-transformers (Transformer, Pooling,
Normalize as the model's configuration says) and writes
models/registry/testdata/golden_<name>.json.gz:

  - the pooled, normalized embeddings of 128 varied texts (rows of
    ../shared/data named by file, row and a hash of the text, plus
    hand-written hard cases stored as text), as IEEE float16;
  - the token ids of those 128 texts, and for ~3,000 more real lines
    (SST-2, TREC, ChnSentiCorp, TNEWS, Yelp) the count and a sha256 of
    each line's ids, so the Go tests can require identical ids without
    committing megabytes.

Run by scripts/st_golden.sh, which makes the throwaway virtual environment.
"""
import argparse
import base64
import csv
import gzip
import hashlib
import json
import os
import sys
import tempfile

import numpy as np
import sentence_transformers
import tokenizers
import torch
import transformers
from sentence_transformers import SentenceTransformer, models

DATA = os.path.join("..", "shared", "data")


def sha12(s):
    return hashlib.sha256(s.encode("utf-8")).hexdigest()[:12]


def ids_sha(ids):
    """The first 8 hex digits of the sha256 of the ids written "1,2,3"."""
    return hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:8]


def read_rows(src):
    """Texts of a data file, as the Go test reads them (see readRows)."""
    path = os.path.join(DATA, src["file"])
    kind, col = src["kind"], src.get("col", 0)
    with open(path, encoding="utf-8", newline="") as f:
        if kind == "jsonl":
            return [json.loads(line)["text"] for line in f if line.strip()]
        if kind == "csv":
            rows = list(csv.reader(f))
            return [r[col] for r in rows[1:]]
        lines = f.read().split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        lines = [l.rstrip("\r") for l in lines]
        if src.get("header"):
            lines = lines[1:]
        return [l.split("\t")[col] for l in lines]


SST2 = {"file": "sst2/test.tsv", "kind": "tsv", "col": 0, "header": True}
TREC = {"file": "trec6/test.jsonl", "kind": "jsonl"}
CHN = {"file": "chnsenticorp/test.tsv", "kind": "tsv", "col": 1, "header": True}
CHN_DEV = {"file": "chnsenticorp/dev.tsv", "kind": "tsv", "col": 1, "header": True}
IMDB = {"file": "more/imdb_fastai_sample/texts.csv", "kind": "csv", "col": 1}
TNEWS = {"file": "more/tnews_bertorch/dev.tsv", "kind": "tsv", "col": 0}
WAIMAI = {"file": "more/chinese_sophonplus/waimai_10k.csv", "kind": "csv", "col": 1}
YELP = {"file": "more/uci_sentiment_labelled/yelp_labelled.txt", "kind": "tsv", "col": 0}

# Hand-written hard cases (name, text).
HARD = [
    ("plain", "hello world"),
    ("caps", "THIS MOVIE WAS ABSOLUTELY TERRIBLE!!!"),
    ("single", "a"),
    ("empty", ""),
    ("whitespace", "   \t  "),
    ("punct", "...?!;:--()[]{}"),
    ("accented-fr", "Le café était crème brûlée, très naïf à l'époque."),
    ("accented-es", "¿Dónde está el niño? ¡Qué día más bonito!"),
    ("accented-de", "Größenwahn über Fußgänger und Äpfel"),
    ("vietnamese", "Tiếng Việt có nhiều dấu thanh điệu"),
    ("combining", "cafe\u0301 nai\u0308ve"),
    ("emoji", "I love this movie 😍😍😍 best film ever 🎬👍"),
    ("emoji-zwj", "family 👨‍👩‍👧‍👦 and flags 🇨🇳🇺🇸 skin 👍🏽"),
    ("fullwidth", "ＦＵＬＬＷＩＤＴＨ　ｔｅｘｔ　１２３！"),
    ("fullwidth-zh", "这部电影真好看！！（强烈推荐）１０分"),
    ("ligature", "ﬁnally the ﬂight was ﬁne"),
    ("russian", "Этот фильм был просто великолепен"),
    ("arabic", "كان هذا الفيلم رائعا جدا"),
    ("hindi", "यह फिल्म बहुत अच्छी थी"),
    ("japanese", "この映画はとても面白かったです。"),
    ("korean", "이 영화 정말 재미있었어요"),
    ("greek", "Η ταινία ήταν καταπληκτική"),
    ("thai", "ภาพยนตร์เรื่องนี้ดีมาก"),
    ("chinese-traditional", "這家飯店的服務非常好，房間也很乾淨。"),
    ("mixed-script", "我今天用iPhone 15 Pro看了Netflix的新剧，感觉soso"),
    ("mixed-script-2", "The 北京 office said 价格 is 100元 (about $14)."),
    ("nbsp-ideographic", "non\u00a0breaking\u3000ideographic space"),
    ("zero-width", "zero\u200bwidth\u200cjoiner\u200dtest\ufeff"),
    ("control", "tab\there\nnewline\rreturn\x07bell"),
    ("replacement-char", "broken \ufffd text"),
    ("numbers", "3.14159 2,718 1e-9 -42 100% 2026-12-01"),
    ("url-email", "see https://example.com/a?b=c or mail me@example.org"),
    ("code", "def f(x): return x**2 if x > 0 else -x  # comment"),
    ("repeats", "sooooooo goooooood hmmmmmm"),
    ("long-word", "supercalifragilisticexpialidocious" * 4),
    ("special-names", "[CLS] [SEP] [MASK] [PAD] [UNK] <s> </s>"),
    ("chinese-punct", "“好”——《红楼梦》、【注】……"),
    ("math", "∑ x² ≤ ∞ ± √2 ≠ π"),
    ("very-long-1000-words", " ".join(["the quick brown fox jumps over the lazy dog"] * 112)),
    ("very-long-zh", "这家酒店的位置非常好，服务也很周到。" * 40),
]


def pick(src, n, every=None, longest=False):
    rows = read_rows(src)
    if longest:
        idx = sorted(range(len(rows)), key=lambda i: -len(rows[i]))[:n]
    else:
        step = every or max(1, len(rows) // n)
        idx = list(range(0, len(rows), step))[:n]
    return [(src, i, rows[i]) for i in idx]


def embedding_items():
    # A few long reviews (truncated at the model's maximum length) and
    # mostly sentence-length texts, so the Go test embeds them in seconds.
    real = (pick(SST2, 30) + pick(TREC, 12) + pick(CHN, 19) + pick(CHN_DEV, 2, longest=True)
            + pick(IMDB, 3, longest=True) + pick(TNEWS, 8) + pick(WAIMAI, 6) + pick(YELP, 8))
    items = [{"name": s["file"], "src": s, "row": i, "h": sha12(t), "text_": t} for s, i, t in real]
    items += [{"name": n, "text": t, "text_": t} for n, t in HARD]
    assert len(items) == 128, len(items)
    return items


ID_SOURCES = [
    dict(SST2, every=1), dict(TREC, every=1), dict(CHN, every=3), dict(TNEWS, every=20), dict(YELP, every=2),
]


def load(model_dir):
    """sentence-transformers on the model directory's weights."""
    man = json.load(open(os.path.join(model_dir, "bertserve.json")))
    if os.path.exists(os.path.join(model_dir, "modules.json")):
        st = SentenceTransformer(model_dir, device="cpu")
    else:
        # No sentence-transformers files (an ONNX-only package): a folder of
        # links to the weights and tokenizer, with a tokenizer_config.json
        # that loads tokenizer.json as it is (PreTrainedTokenizerFast does
        # not rewrite its normalizer the way BertTokenizerFast would).
        tmp = tempfile.mkdtemp(prefix="st-golden-")
        for f in ("config.json", "model.safetensors", "tokenizer.json"):
            os.symlink(os.path.abspath(os.path.join(model_dir, f)), os.path.join(tmp, f))
        with open(os.path.join(tmp, "tokenizer_config.json"), "w") as f:
            json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": man["max_length"],
                       "pad_token": "[PAD]", "cls_token": "[CLS]", "sep_token": "[SEP]", "unk_token": "[UNK]",
                       "mask_token": "[MASK]"}, f)
        word = models.Transformer(tmp, max_seq_length=man["max_length"])
        mods = [word, models.Pooling(word.get_word_embedding_dimension(), pooling_mode=man["pooling"])]
        if man.get("normalize"):
            mods.append(models.Normalize())
        st = SentenceTransformer(modules=mods, device="cpu")
    st.max_seq_length = man["max_length"]
    return st, man


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dirs", nargs="+")
    ap.add_argument("--out", default=os.path.join("models", "registry", "testdata"))
    args = ap.parse_args()
    torch.set_num_threads(2)
    gen = (f"scripts/st_golden.py: sentence-transformers {sentence_transformers.__version__}, "
           f"transformers {transformers.__version__}, tokenizers {tokenizers.__version__}, torch {torch.__version__}")
    items = embedding_items()
    for d in args.model_dirs:
        st, man = load(d)
        tok = st.tokenizer
        max_len = man["max_length"]
        texts = [it["text_"] for it in items]
        emb = st.encode(texts, batch_size=16, convert_to_numpy=True, normalize_embeddings=False).astype(np.float32)
        out_items = []
        for it, t in zip(items, texts):
            ids = tok(t, truncation=True, max_length=max_len)["input_ids"]
            o = {k: v for k, v in it.items() if k != "text_"}
            o["ids"] = ids
            out_items.append(o)
        lines = []
        for si, src in enumerate(ID_SOURCES):
            rows = read_rows(src)
            for r in range(0, len(rows), src["every"]):
                ids = tok(rows[r], truncation=True, max_length=max_len)["input_ids"]
                lines.append([si, r, sha12(rows[r])[:8], len(ids), ids_sha(ids)])
        with open(os.path.join(d, "model.safetensors"), "rb") as f:
            wsha = hashlib.sha256(f.read()).hexdigest()
        golden = {
            "generator": gen, "model": man["name"], "source": man["source"], "weights_sha256": wsha,
            "dim": int(emb.shape[1]), "max_length": max_len, "pooling": man["pooling"], "normalize": bool(man.get("normalize")),
            "items": out_items,
            "embeddings_f16": base64.b64encode(emb.astype("<f2").tobytes()).decode(),
            "id_sources": ID_SOURCES,
            "id_lines": lines,
        }
        os.makedirs(args.out, exist_ok=True)
        path = os.path.join(args.out, f"golden_{man['name']}.json.gz")
        with gzip.GzipFile(path, "wb", mtime=0) as f:
            f.write(json.dumps(golden, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
        print(f"{path}: {len(out_items)} embeddings ({emb.shape[1]}-d), {len(lines)} id lines, {os.path.getsize(path)} bytes",
              file=sys.stderr)


if __name__ == "__main__":
    main()
