#!/usr/bin/python3
"""Fit scikit-learn's LogisticRegression (lbfgs) on an embedding matrix and
print accuracy, log loss and wall time as one JSON object.

    /usr/bin/python3 scripts/sklearn_compare.py TRAIN.npy TRAIN.labels TEST.npy TEST.labels \
        [--weight-decay 1e-4] [--max-iter 1000] [--tol 1e-4]

Labels files hold one label per line (row i labels matrix row i), as
`bertserve train --embeddings X.npy --labels y.txt` reads them. This is the
reference side of scripts/bench_head.sh; use Debian's python3-sklearn
(/usr/bin/python3), not a virtualenv.

Matching the regularisation. bertserve's softmax head minimises

    (1/N) * sum_i loss_i + (lambda/2) * ||W||^2        (lambda = --weight-decay)

over all K weight vectors, the intercepts unpenalised. scikit-learn's
multinomial LogisticRegression minimises

    C * sum_i loss_i + (1/2) * ||W||^2                 (intercepts unpenalised)

Dividing the latter by C*N gives the former with lambda = 1/(C*N), so we fit
with C = 1/(lambda*N).

Binary tasks: the softmax head keeps two vectors w0, w1; only w = w1 - w0
matters to the predictions, and the penalty is smallest at w1 = -w0 = w/2,
where (lambda/2)(||w0||^2 + ||w1||^2) = (lambda/4)||w||^2. scikit-learn's
binary (binomial) model has the single vector w with penalty ||w||^2/2
against C * sum loss, i.e. 1/(2*C*N) per mean loss, so it matches with
C = 2/(lambda*N). scikit-learn < 1.8 can also fit the two-vector
multinomial form (multi_class="multinomial"), where C = 1/(lambda*N); we
use that where available, the binomial mapping otherwise. Both give the
same probabilities (checked: max difference 1e-4 at tol 1e-8 on SST-2).
"""
import argparse
import json
import sys
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss


def read_labels(path):
    with open(path, encoding="utf-8") as f:
        labels = [line.strip() for line in f]
    while labels and labels[-1] == "":
        labels.pop()
    return labels


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("train_x")
    ap.add_argument("train_y")
    ap.add_argument("test_x")
    ap.add_argument("test_y")
    ap.add_argument("--weight-decay", type=float, default=1e-4, help="bertserve's L2 strength lambda (default 1e-4, its default)")
    ap.add_argument("--max-iter", type=int, default=1000)
    ap.add_argument("--tol", type=float, default=1e-4, help="sklearn's tol (its default)")
    a = ap.parse_args()

    X = np.load(a.train_x)
    Xt = np.load(a.test_x)
    y, yt = read_labels(a.train_y), read_labels(a.test_y)
    if len(y) != X.shape[0] or len(yt) != Xt.shape[0]:
        sys.exit(f"row counts differ: {X.shape[0]} rows vs {len(y)} labels, {Xt.shape[0]} vs {len(yt)}")
    # lbfgs works in float64; convert outside the timed region so the
    # timing is the fit alone.
    X = np.ascontiguousarray(X, dtype=np.float64)
    Xt = np.ascontiguousarray(Xt, dtype=np.float64)
    N = X.shape[0]
    kw = dict(solver="lbfgs", max_iter=a.max_iter, tol=a.tol)
    if "multi_class" in LogisticRegression().get_params():  # scikit-learn < 1.8
        kw["multi_class"] = "multinomial"
        C = 1.0 / (a.weight_decay * N)
    elif len(set(y)) == 2:  # binomial: one weight vector, see above
        C = 2.0 / (a.weight_decay * N)
    else:
        C = 1.0 / (a.weight_decay * N)
    clf = LogisticRegression(C=C, **kw)
    t0 = time.perf_counter()
    clf.fit(X, y)
    seconds = time.perf_counter() - t0
    proba = clf.predict_proba(Xt)
    pred = clf.classes_[proba.argmax(axis=1)]
    out = {
        "impl": "scikit-learn",
        "version": __import__("sklearn").__version__,
        "rows": N,
        "dim": X.shape[1],
        "classes": len(clf.classes_),
        "C": C,
        "weight_decay": a.weight_decay,
        "iterations": int(np.max(clf.n_iter_)),
        "converged": bool(np.max(clf.n_iter_) < a.max_iter),
        "seconds": seconds,
        "accuracy": accuracy_score(yt, pred),
        "log_loss": log_loss(yt, proba, labels=clf.classes_),
    }
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
