#!/usr/bin/python3
"""Golden outputs for bertserve's ONNX encoder builder, computed with PyTorch.

An independent implementation of the BERT, RoBERTa and DistilBERT encoders,
written with torch's own layers (nn.Embedding, nn.Linear, nn.LayerNorm,
F.gelu, softmax attention) the way Hugging Face transformers' modeling code
writes them, but without transformers (Debian's python3-torch 1.13 has no
transformers or safetensors). It reads the weights that Go wrote
(model.safetensors, parsed here with numpy) and a Hugging Face config.json,
runs real tokenized sentences through the model in float64, and writes a
small gzip'd JSON golden file that models/golden_test.go compares the ONNX
graph against.

Usage (models/golden_test.go runs this when BERTSERVE_GOLDEN_REGEN=1):

  /usr/bin/python3 scripts/torch_reference.py --config CONFIG.json \
      --weights model.safetensors --sentences en_ref.jsonl [--pairs pairs_ref.jsonl] \
      --n 20 --store full|summary --meta '{"seed": 1}' --out golden.json.gz
"""

import argparse
import base64
import gzip
import hashlib
import json
import math
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

F32_MIN = torch.finfo(torch.float32).min

# --------------------------------------------------------------------------
# safetensors, read with numpy


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    body = raw[8 + n:]
    dtypes = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I64": "<i8", "I32": "<i4"}
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        lo, hi = e["data_offsets"]
        if e["dtype"] == "BF16":
            u16 = np.frombuffer(body[lo:hi], dtype="<u2").astype(np.uint32) << 16
            arr = u16.view("<f4")
        else:
            arr = np.frombuffer(body[lo:hi], dtype=dtypes[e["dtype"]])
        out[name] = arr.reshape(e["shape"]).astype(np.float64)
    return out, hashlib.sha256(raw).hexdigest()


class Weights:
    """Looks up parameters with or without a model prefix ("bert.")."""

    def __init__(self, tensors):
        self.t = tensors
        suffix = "embeddings.word_embeddings.weight"
        prefixes = sorted((k[: -len(suffix)] for k in tensors if k.endswith(suffix)), key=len)
        if not prefixes:
            sys.exit("no %s in the weights" % suffix)
        self.prefix = prefixes[0]

    def __call__(self, name):
        key = self.prefix + name
        if key not in self.t:
            sys.exit("missing tensor %s" % key)
        return torch.from_numpy(self.t[key].copy())


def load_linear(lin, w, name):
    with torch.no_grad():
        lin.weight.copy_(w(name + ".weight"))
        lin.bias.copy_(w(name + ".bias"))


def load_norm(ln, w, name):
    with torch.no_grad():
        ln.weight.copy_(w(name + ".weight"))
        ln.bias.copy_(w(name + ".bias"))


def activation(name):
    if name == "gelu":
        return lambda x: F.gelu(x)  # exact erf form
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        return lambda x: 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))
    if name == "relu":
        return F.relu
    sys.exit("unsupported activation %s" % name)


# --------------------------------------------------------------------------
# BERT / RoBERTa, as transformers' modeling_bert.py / modeling_roberta.py


class BertEmbeddings(nn.Module):
    def __init__(self, c, roberta):
        super().__init__()
        H = c["hidden_size"]
        self.roberta = roberta
        self.pad = c.get("pad_token_id", 1 if roberta else 0)
        self.word_embeddings = nn.Embedding(c["vocab_size"], H)
        self.position_embeddings = nn.Embedding(c["max_position_embeddings"], H)
        self.token_type_embeddings = nn.Embedding(c.get("type_vocab_size", 2), H)
        self.LayerNorm = nn.LayerNorm(H, eps=c.get("layer_norm_eps", 1e-12))

    def load(self, w):
        with torch.no_grad():
            self.word_embeddings.weight.copy_(w("embeddings.word_embeddings.weight"))
            self.position_embeddings.weight.copy_(w("embeddings.position_embeddings.weight"))
            self.token_type_embeddings.weight.copy_(w("embeddings.token_type_embeddings.weight"))
        load_norm(self.LayerNorm, w, "embeddings.LayerNorm")

    def forward(self, input_ids, token_type_ids):
        if self.roberta:
            # create_position_ids_from_input_ids
            mask = input_ids.ne(self.pad).int()
            position_ids = (torch.cumsum(mask, dim=1).type_as(mask) * mask).long() + self.pad
        else:
            position_ids = torch.arange(input_ids.shape[1]).unsqueeze(0).expand_as(input_ids)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        embeddings = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        embeddings = embeddings + self.position_embeddings(position_ids)
        return self.LayerNorm(embeddings)


class BertLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        H, I = c["hidden_size"], c["intermediate_size"]
        self.nh = c["num_attention_heads"]
        self.hd = H // self.nh
        eps = c.get("layer_norm_eps", 1e-12)
        self.query, self.key, self.value = nn.Linear(H, H), nn.Linear(H, H), nn.Linear(H, H)
        self.attn_out = nn.Linear(H, H)
        self.attn_norm = nn.LayerNorm(H, eps=eps)
        self.intermediate = nn.Linear(H, I)
        self.output = nn.Linear(I, H)
        self.out_norm = nn.LayerNorm(H, eps=eps)
        self.act = activation(c.get("hidden_act", "gelu"))

    def load(self, w, i):
        p = "encoder.layer.%d." % i
        load_linear(self.query, w, p + "attention.self.query")
        load_linear(self.key, w, p + "attention.self.key")
        load_linear(self.value, w, p + "attention.self.value")
        load_linear(self.attn_out, w, p + "attention.output.dense")
        load_norm(self.attn_norm, w, p + "attention.output.LayerNorm")
        load_linear(self.intermediate, w, p + "intermediate.dense")
        load_linear(self.output, w, p + "output.dense")
        load_norm(self.out_norm, w, p + "output.LayerNorm")

    def split(self, x):
        B, S, _ = x.shape
        return x.view(B, S, self.nh, self.hd).permute(0, 2, 1, 3)

    def forward(self, h, ext_mask):
        q, k, v = self.split(self.query(h)), self.split(self.key(h)), self.split(self.value(h))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.hd)
        probs = F.softmax(scores + ext_mask, dim=-1)
        ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous()
        ctx = ctx.view(ctx.shape[0], ctx.shape[1], -1)
        a = self.attn_norm(self.attn_out(ctx) + h)
        return self.out_norm(self.output(self.act(self.intermediate(a))) + a)


class BertModel(nn.Module):
    def __init__(self, c, roberta, pooler):
        super().__init__()
        self.embeddings = BertEmbeddings(c, roberta)
        self.layers = nn.ModuleList(BertLayer(c) for _ in range(c["num_hidden_layers"]))
        H = c["hidden_size"]
        self.pooler = nn.Linear(H, H) if pooler else None

    def load(self, w):
        self.embeddings.load(w)
        for i, layer in enumerate(self.layers):
            layer.load(w, i)
        if self.pooler is not None:
            load_linear(self.pooler, w, "pooler.dense")

    def forward(self, input_ids, attention_mask, token_type_ids):
        ext = (1.0 - attention_mask[:, None, None, :].to(torch.float64)) * F32_MIN
        h = self.embeddings(input_ids, token_type_ids)
        for layer in self.layers:
            h = layer(h, ext)
        pooled = torch.tanh(self.pooler(h[:, 0])) if self.pooler is not None else None
        return h, pooled


# --------------------------------------------------------------------------
# DistilBERT, as transformers' modeling_distilbert.py


class DistilLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        H, I = c["dim"], c["hidden_dim"]
        self.nh = c["n_heads"]
        self.hd = H // self.nh
        self.q_lin, self.k_lin, self.v_lin, self.out_lin = (nn.Linear(H, H) for _ in range(4))
        self.sa_layer_norm = nn.LayerNorm(H, eps=1e-12)
        self.lin1, self.lin2 = nn.Linear(H, I), nn.Linear(I, H)
        self.output_layer_norm = nn.LayerNorm(H, eps=1e-12)
        self.act = activation(c.get("activation", "gelu"))

    def load(self, w, i):
        p = "transformer.layer.%d." % i
        for n in ("q_lin", "k_lin", "v_lin", "out_lin"):
            load_linear(getattr(self, n), w, p + "attention." + n)
        load_norm(self.sa_layer_norm, w, p + "sa_layer_norm")
        load_linear(self.lin1, w, p + "ffn.lin1")
        load_linear(self.lin2, w, p + "ffn.lin2")
        load_norm(self.output_layer_norm, w, p + "output_layer_norm")

    def forward(self, x, mask):
        B, S, H = x.shape

        def shape(t):
            return t.view(B, -1, self.nh, self.hd).transpose(1, 2)

        q = shape(self.q_lin(x)) / math.sqrt(self.hd)
        k, v = shape(self.k_lin(x)), shape(self.v_lin(x))
        scores = torch.matmul(q, k.transpose(2, 3))
        fill = (mask == 0).view(B, 1, 1, S).expand_as(scores)
        scores = scores.masked_fill(fill, F32_MIN)
        ctx = torch.matmul(F.softmax(scores, dim=-1), v).transpose(1, 2).contiguous().view(B, -1, H)
        sa = self.sa_layer_norm(self.out_lin(ctx) + x)
        return self.output_layer_norm(self.lin2(self.act(self.lin1(sa))) + sa)


class DistilBertModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        H = c["dim"]
        self.word_embeddings = nn.Embedding(c["vocab_size"], H)
        self.position_embeddings = nn.Embedding(c.get("max_position_embeddings", 512), H)
        self.LayerNorm = nn.LayerNorm(H, eps=1e-12)
        self.layers = nn.ModuleList(DistilLayer(c) for _ in range(c["n_layers"]))

    def load(self, w):
        with torch.no_grad():
            self.word_embeddings.weight.copy_(w("embeddings.word_embeddings.weight"))
            self.position_embeddings.weight.copy_(w("embeddings.position_embeddings.weight"))
        load_norm(self.LayerNorm, w, "embeddings.LayerNorm")
        for i, layer in enumerate(self.layers):
            layer.load(w, i)

    def forward(self, input_ids, attention_mask, token_type_ids):
        pos = torch.arange(input_ids.shape[1]).unsqueeze(0).expand_as(input_ids)
        h = self.LayerNorm(self.word_embeddings(input_ids) + self.position_embeddings(pos))
        for layer in self.layers:
            h = layer(h, attention_mask)
        return h, None


# --------------------------------------------------------------------------
# inputs: real Hugging Face token ids, batched with padding


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def pick(rows, n, max_len):
    """n rows spread evenly over the file, each at most max_len tokens."""
    ok = [r for r in rows if len(r["ids"]) <= max_len]
    step = max(1, len(ok) // n)
    return ok[::step][:n]


def make_batches(sents, pairs, pad_id, with_types):
    """Batches of 1, 4, 8 and the rest of the sentences, one batch of
    sentence pairs (token types 0/1), and a batch with a fully padded row."""
    def batch(items, extra_empty=False):
        seqs = [r["ids"] for r in items]
        types = [r.get("type_ids", [0] * len(r["ids"])) for r in items]
        S = max(len(s) for s in seqs)
        ids = [s + [pad_id] * (S - len(s)) for s in seqs]
        mask = [[1] * len(s) + [0] * (S - len(s)) for s in seqs]
        tt = [t + [0] * (S - len(t)) for t in types]
        if extra_empty:
            ids.append([pad_id] * S)
            mask.append([0] * S)
            tt.append([0] * S)
        b = {"input_ids": ids, "attention_mask": mask}
        if with_types:
            b["token_type_ids"] = tt
        return b

    out, i = [], 0
    for size in (1, 4, 8):
        if i + size <= len(sents):
            out.append(batch(sents[i:i + size]))
            i += size
    if i < len(sents):
        out.append(batch(sents[i:]))
    if pairs:
        out.append(batch(pairs))
    out.append(batch(sents[:3], extra_empty=True))
    return out


def b64(a):
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f4").tobytes()).decode("ascii")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--sentences", required=True, help="JSON Lines with Hugging Face token ids (tokref/en_ref.jsonl)")
    ap.add_argument("--pairs", help="JSON Lines of sentence pairs with ids and type_ids")
    ap.add_argument("--n", type=int, default=20, help="sentences to use")
    ap.add_argument("--npairs", type=int, default=4)
    ap.add_argument("--max-len", type=int, default=40)
    ap.add_argument("--store", choices=("full", "summary"), default="full",
                    help="full: every token's hidden state; summary: tokens 0, middle, last real, first pad")
    ap.add_argument("--meta", default="{}", help="JSON object copied into the golden file")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    with open(args.config, encoding="utf-8") as f:
        c = json.load(f)
    mt = c["model_type"]
    tensors, digest = read_safetensors(args.weights)
    w = Weights(tensors)
    if mt == "distilbert":
        model = DistilBertModel(c)
        pad_id, with_types = c.get("pad_token_id", 0), False
    elif mt in ("bert", "roberta", "xlm-roberta", "camembert"):
        roberta = mt != "bert"
        has_pooler = (w.prefix + "pooler.dense.weight") in tensors
        model = BertModel(c, roberta, has_pooler)
        pad_id = c.get("pad_token_id", 1 if roberta else 0)
        with_types = not roberta and c.get("type_vocab_size", 2) > 1
    else:
        sys.exit("unsupported model_type %s" % mt)
    model = model.double().eval()
    model.load(w)

    sents = pick(read_jsonl(args.sentences), args.n, args.max_len)
    pairs = pick(read_jsonl(args.pairs), args.npairs, args.max_len) if args.pairs and with_types else []
    batches = make_batches(sents, pairs, pad_id, with_types)

    golden = dict(json.loads(args.meta))
    golden.update({
        "generator": "scripts/torch_reference.py",
        "torch": torch.__version__,
        "config": c,
        "weights_sha256": digest,
        "store": args.store,
        "batches": [],
    })
    with torch.no_grad():
        for b in batches:
            ids = torch.tensor(b["input_ids"], dtype=torch.long)
            mask = torch.tensor(b["attention_mask"], dtype=torch.long)
            tt = torch.tensor(b["token_type_ids"], dtype=torch.long) if "token_type_ids" in b else None
            h, pooled = model(ids, mask, tt)
            B, S, H = h.shape
            positions = []
            for r in range(B):
                n = int(mask[r].sum())
                if args.store == "full":
                    pos = list(range(S))
                else:
                    pos = sorted({0, max(n - 1, 0) // 2, max(n - 1, 0)} | ({n} if n < S else set()))
                positions.append(pos)
            rows = np.concatenate([h[r, positions[r]].numpy() for r in range(B)])
            m = mask.unsqueeze(-1).to(h.dtype)
            mean = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
            entry = dict(b)
            entry["positions"] = positions
            entry["hidden"] = b64(rows)
            entry["mean"] = b64(mean.numpy())
            if pooled is not None:
                entry["pooler_output"] = b64(pooled.numpy())
            golden["batches"].append(entry)
    data = json.dumps(golden, separators=(",", ":")).encode("utf-8")
    with open(args.out, "wb") as raw:
        # mtime=0 keeps regenerated files byte-identical when nothing changed.
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as f:
            f.write(data)
    print("wrote %s: %d batches, %d sentences" % (args.out, len(batches), sum(len(b["input_ids"]) for b in batches)))


if __name__ == "__main__":
    main()
