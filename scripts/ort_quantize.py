#!/usr/bin/env python3
"""ONNX Runtime's own tools applied to a bertserve float32 model.onnx (issue 11).

Writes, next to --out-prefix:
  PREFIX-ort-int8.onnx        onnxruntime.quantization.quantize_dynamic (QInt8 weights, per tensor)
  PREFIX-ort-int8-pc.onnx     the same with per_channel=True
  PREFIX-ort-opt.onnx         onnxruntime.transformers.optimizer.optimize_model (model_type bert,
                              opt_level 0: its Python fusions; level 1 needs torch, and ONNX
                              Runtime applies its own level at session load anyway)
  PREFIX-ort-opt-int8.onnx    optimize_model, then quantize_dynamic per channel (ORT's documented
                              recipe for BERT on CPU)
Run it in a throwaway venv with the onnxruntime version bertserve runs (scripts/bench_quant.sh).
"""
import argparse
import json
import os

import onnx
import onnxruntime
from onnxruntime.quantization import QuantType, quantize_dynamic
from onnxruntime.transformers import optimizer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="bertserve model directory (float32)")
    ap.add_argument("--out-prefix", required=True)
    a = ap.parse_args()
    cfg = json.load(open(os.path.join(a.model, "config.json")))
    src = os.path.join(a.model, "model.onnx")
    p = a.out_prefix
    print("onnxruntime", onnxruntime.__version__)
    quantize_dynamic(src, p + "-ort-int8.onnx", weight_type=QuantType.QInt8)
    quantize_dynamic(src, p + "-ort-int8-pc.onnx", weight_type=QuantType.QInt8, per_channel=True)
    opt = optimizer.optimize_model(src, model_type="bert", num_heads=cfg["num_attention_heads"],
                                   hidden_size=cfg["hidden_size"], opt_level=0)
    print("optimizer fused:", opt.get_fused_operator_statistics())
    opt.save_model_to_file(p + "-ort-opt.onnx")
    # The optimizer's contrib nodes defeat shape inference; the tensors are float32.
    quantize_dynamic(p + "-ort-opt.onnx", p + "-ort-opt-int8.onnx", weight_type=QuantType.QInt8, per_channel=True,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    for s in ["-ort-int8", "-ort-int8-pc", "-ort-opt", "-ort-opt-int8"]:
        print(p + s + ".onnx", os.path.getsize(p + s + ".onnx"))


if __name__ == "__main__":
    main()
