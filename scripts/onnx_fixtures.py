#!/usr/bin/env python3
"""Writes tiny torch.onnx exports of a transformers BertModel for the ONNX
import tests (models/onnxrecover_test.go): the same seeded random weights
exported the ways real packages are made, plus the weights themselves.

  models/testdata/onnx/tiny-bert.safetensors    the BertModel's state dict
  models/testdata/onnx/tiny-bert-opset11.onnx   TorchScript exporter, opset 11
                                                (what Xenova/optimum exports of
                                                 torch 2.0 look like: decomposed
                                                 LayerNorm, onnx::MatMul_N names)
  models/testdata/onnx/tiny-bert-opset11-nofold.onnx  the same without constant
                                                folding (Transpose(W) in the graph)
  models/testdata/onnx/tiny-bert-dynamo.onnx    torch.export-based exporter
                                                (LayerNormalization, opset 18)

Run it from the repository root with a Python that has torch and
transformers, e.g. the throwaway venv scripts/st_golden.sh makes:
  /work/scratch/$USER/venv/bin/python scripts/onnx_fixtures.py
"""
import os
import sys

import torch
from safetensors.torch import save_file
from transformers import BertConfig, BertModel

OUT = os.path.join("models", "testdata", "onnx")


def strip(path):
    """Drops the exporter's per-node stack traces and doc strings, which
    triple the file and say nothing about the graph."""
    import onnx
    m = onnx.load(path)
    for n in m.graph.node:
        n.doc_string = ""
        del n.metadata_props[:]
    m.graph.doc_string = ""
    del m.metadata_props[:]
    onnx.save(m, path)


class Wrapper(torch.nn.Module):
    """BertModel with the three inputs by keyword (transformers 5 takes
    more positional arguments) and its two outputs as a tuple."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, token_type_ids):
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        return out.last_hidden_state, out.pooler_output


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(5)
    cfg = BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=32, max_position_embeddings=32, type_vocab_size=2,
                     hidden_act="gelu", layer_norm_eps=1e-12, attn_implementation="eager")
    model = BertModel(cfg, add_pooling_layer=True).eval()
    with torch.no_grad():
        for p in model.parameters():  # every parameter non-trivial, LayerNorm included
            p.copy_(torch.randn_like(p) * 0.2)
    wrapped = Wrapper(model).eval()
    state = {k: v.contiguous() for k, v in model.state_dict().items() if k != "embeddings.position_ids"}
    save_file(state, os.path.join(OUT, "tiny-bert.safetensors"), metadata={"format": "pt"})
    ids = torch.tensor([[2, 7, 8, 9, 3, 0], [2, 11, 3, 0, 0, 0]])
    mask = (ids != 0).long()
    types = torch.zeros_like(ids)
    args = (ids, mask, types)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    dyn = {n: {0: "batch_size", 1: "sequence_length"} for n in names}
    dyn.update({"last_hidden_state": {0: "batch_size", 1: "sequence_length"}, "pooler_output": {0: "batch_size"}})
    for name, fold in [("tiny-bert-opset11.onnx", True), ("tiny-bert-opset11-nofold.onnx", False)]:
        torch.onnx.export(wrapped, args, os.path.join(OUT, name), input_names=names,
                          output_names=["last_hidden_state", "pooler_output"], dynamic_axes=dyn,
                          opset_version=11, do_constant_folding=fold, dynamo=False)
    try:
        torch.onnx.export(wrapped, args, os.path.join(OUT, "tiny-bert-dynamo.onnx"), input_names=names,
                          output_names=["last_hidden_state", "pooler_output"], opset_version=18, dynamo=True,
                          dynamic_shapes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                                          "token_type_ids": {0: "batch", 1: "seq"}}, external_data=False)
        strip(os.path.join(OUT, "tiny-bert-dynamo.onnx"))
    except Exception as e:  # the dynamo exporter needs onnxscript
        print("dynamo export skipped:", e, file=sys.stderr)
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, token_type_ids=types)
    print("last_hidden_state[0,0,:4]", out.last_hidden_state[0, 0, :4].tolist())
    for f in sorted(os.listdir(OUT)):
        print(f, os.path.getsize(os.path.join(OUT, f)))


if __name__ == "__main__":
    main()
