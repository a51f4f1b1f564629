#!/usr/bin/env python3
"""The users' reference recipes for fine-tuning inside the encoder, to
compare `bertserve train --tune ...` against (BENCHMARKS.md, issue 10).

  full: transformers' Trainer, full fine-tune of AutoModelForSequenceClassification
        (lr 2e-5, 3 epochs, linear schedule with 6% warm-up, weight decay 0.01,
        batch 16, the best epoch's checkpoint on validation accuracy)
  lora: the same Trainer with PEFT LoRA r=8, alpha 16, dropout 0.1 on query and
        value (the classifier trained too, as PEFT's SEQ_CLS task does),
        lr 5e-4 (LoRA's usual rate; 2e-5 barely moves rank-8 updates)

Both read the same Hugging Face model folder (config.json, model.safetensors,
tokenizer) and the same TSV splits as bertserve, truncate at the same
--max-length, run on --threads CPU threads, and print one JSON line:
validation and test accuracy and the wall time from start to the end of
the test evaluation (model loading and tokenization included).

Run by scripts/bench_tune.sh in a throwaway virtual environment (torch,
transformers, peft from PyPI); never a dependency of bertserve.
"""
import argparse
import csv
import json
import os
import sys
import time

T0 = time.time()

import numpy as np  # noqa: E402
import torch  # noqa: E402
from transformers import (AutoModelForSequenceClassification, AutoTokenizer,  # noqa: E402
                          DataCollatorWithPadding, Trainer, TrainingArguments, set_seed)


def read_tsv(path, text_col, label_col):
    texts, labels = [], []
    with open(path, newline="", encoding="utf-8") as f:
        r = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        for row in r:
            texts.append(row[text_col])
            labels.append(row[label_col].strip())  # as bertserve reads labels
    return texts, labels


class Split(torch.utils.data.Dataset):
    def __init__(self, enc, labels):
        self.enc, self.labels = enc, labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        item = {k: v[i] for k, v in self.enc.items()}
        item["labels"] = self.labels[i]
        return item


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True, help="folder with train.tsv, dev.tsv, test.tsv")
    ap.add_argument("--text-col", default="sentence")
    ap.add_argument("--label-col", default="label")
    ap.add_argument("--mode", choices=["full", "lora"], required=True)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--epochs", type=float, default=3)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", required=True, help="scratch folder for checkpoints")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    set_seed(a.seed)
    lr = a.lr if a.lr is not None else (2e-5 if a.mode == "full" else 5e-4)

    splits = {s: read_tsv(os.path.join(a.data, s + ".tsv"), a.text_col, a.label_col) for s in ("train", "dev", "test")}
    names = sorted(set(splits["train"][1]))
    index = {n: i for i, n in enumerate(names)}
    tok = AutoTokenizer.from_pretrained(a.model)
    data = {}
    for s, (texts, labels) in splits.items():
        enc = tok(texts, truncation=True, max_length=a.max_length)
        data[s] = Split(enc, [index[l] for l in labels])

    model = AutoModelForSequenceClassification.from_pretrained(a.model, num_labels=len(names))
    if a.mode == "lora":
        from peft import LoraConfig, TaskType, get_peft_model
        model = get_peft_model(model, LoraConfig(task_type=TaskType.SEQ_CLS, r=8, lora_alpha=16, lora_dropout=0.1,
                                                 target_modules=["query", "value"]))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)

    def metrics(p):
        return {"accuracy": float((np.argmax(p.predictions, axis=-1) == p.label_ids).mean())}

    args = TrainingArguments(
        output_dir=a.out, num_train_epochs=a.epochs, learning_rate=lr, per_device_train_batch_size=a.batch,
        per_device_eval_batch_size=64, weight_decay=0.01, warmup_steps=0.06, lr_scheduler_type="linear",
        eval_strategy="epoch", save_strategy="epoch", load_best_model_at_end=True, metric_for_best_model="accuracy",
        save_total_limit=1, logging_steps=50, report_to=[], seed=a.seed, use_cpu=True,
        dataloader_num_workers=0)
    trainer = Trainer(model=model, args=args, train_dataset=data["train"], eval_dataset=data["dev"],
                      data_collator=DataCollatorWithPadding(tok), compute_metrics=metrics)
    t_train = time.time()
    trainer.train()
    train_s = time.time() - t_train
    val = trainer.evaluate(data["dev"])["eval_accuracy"]
    test = trainer.evaluate(data["test"])["eval_accuracy"]
    print(json.dumps({
        "mode": a.mode, "model": a.model, "data": a.data, "max_length": a.max_length, "epochs": a.epochs, "lr": lr,
        "batch": a.batch, "threads": a.threads, "trainable_params": trainable,
        "val_accuracy": round(val, 4), "test_accuracy": round(test, 4),
        "train_seconds": round(train_s, 1), "wall_seconds": round(time.time() - T0, 1),
        "torch": torch.__version__,
    }))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
