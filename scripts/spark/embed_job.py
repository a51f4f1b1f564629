#!/usr/bin/env python3
"""A PySpark job that embeds a corpus by piping it through `bertserve embed`.

Every partition of the corpus goes through one `bertserve embed --input - --output -` process
(RDD.pipe): JSON Lines {"id": row, "text": ...} in, {"id": row, "embedding": base64 float32} out,
in input order. The collected rows are compared, bit for bit, with the .npy of a single-process
`bertserve embed` of the same corpus, and the two wall times are compared.

    embed_job.py --bertserve bin/bertserve --model DIR --ort-lib libonnxruntime.so.1 --input train.tsv
                 [--text-col sentence] [--master local[2]] [--partitions 4] [--threads 1] [--rounds 1]

RDD.pipe starts its command with an empty environment, so the ONNX Runtime library is named
with bertserve's --ort-lib. The same job runs on a cluster with spark-submit (see the README,
"Embedding on Spark"); there --bertserve, --model and --ort-lib name what --files/--archives
shipped.
"""
import argparse
import base64
import json
import os
import re
import shlex
import struct
import subprocess
import sys
import tempfile
import time


def read_npy(path):
    """Returns (rows, dim, data bytes) of a float32 [rows, dim] .npy file."""
    with open(path, "rb") as f:
        b = f.read()
    if b[:6] != b"\x93NUMPY":
        sys.exit(f"{path} is not an .npy file")
    hlen = struct.unpack("<H", b[8:10])[0]
    header = b[10:10 + hlen].decode("latin1")
    m = re.search(r"'shape': \((\d+), (\d+)\)", header)
    if "'<f4'" not in header or not m:
        sys.exit(f"{path}: want a float32 2-D matrix, header {header!r}")
    return int(m.group(1)), int(m.group(2)), b[10 + hlen:]


def single_process(args, out):
    """Embeds the corpus in one process; returns the wall time in seconds."""
    cmd = [args.bertserve, "embed", "--model", args.model, "--ort-lib", args.ort_lib, "--input", args.input,
           "--output", out, "--threads", str(args.single_threads), "--resume=false"]
    t0 = time.time()
    subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL)
    return time.time() - t0


def spark_job(sc, args):
    """Pipes the corpus through bertserve; returns ({id: embedding bytes}, wall time)."""
    t0 = time.time()
    lines = sc.textFile(args.input, minPartitions=args.partitions)
    header = lines.first().split("\t")
    if args.text_col not in header:
        sys.exit(f"{args.input}: no column {args.text_col!r} in the header {header}")
    col = header.index(args.text_col)

    def record(pair):
        line, i = pair
        return json.dumps({"id": i - 1, "text": line.split("\t")[col]}, ensure_ascii=False)

    records = lines.zipWithIndex().filter(lambda p: p[1] > 0).map(record)
    cmd = " ".join(shlex.quote(a) for a in [
        args.bertserve, "embed", "--model", args.model, "--ort-lib", args.ort_lib, "--input", "-", "--output", "-",
        "--encoding", "base64", "--threads", str(args.threads)])
    out = records.pipe(cmd, checkCode=True).map(json.loads).map(lambda r: (r["id"], r["embedding"]))
    rows = dict(out.collect())
    return rows, time.time() - t0, records.getNumPartitions()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bertserve", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--ort-lib", required=True, help="the ONNX Runtime shared library")
    p.add_argument("--input", required=True, help="a TSV corpus with a header row")
    p.add_argument("--text-col", default="sentence")
    p.add_argument("--master", default="local[2]")
    p.add_argument("--partitions", type=int, default=4)
    p.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads of each piped process")
    p.add_argument("--single-threads", type=int, default=2, help="threads of the single-process baseline")
    p.add_argument("--rounds", type=int, default=1, help="alternating rounds of single process and Spark job")
    args = p.parse_args()
    args.bertserve = os.path.abspath(args.bertserve)
    args.model = os.path.abspath(args.model)
    args.input = os.path.abspath(args.input)
    args.ort_lib = os.path.abspath(args.ort_lib)

    from pyspark.sql import SparkSession  # imported late: --help works without PySpark

    t0 = time.time()
    spark = (SparkSession.builder.master(args.master).appName("bertserve-embed-pipe")
             .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false").getOrCreate())
    spark.sparkContext.setLogLevel("WARN")
    startup = time.time() - t0
    print(f"Spark {spark.version} ({args.master}) started in {startup:.1f} s (not counted below)", flush=True)

    tmp = tempfile.mkdtemp(prefix="bertserve-spark-")
    ref = os.path.join(tmp, "single.npy")
    singles, jobs = [], []
    rows = None
    for r in range(args.rounds):
        singles.append(single_process(args, ref))
        rows, wall, parts = spark_job(spark.sparkContext, args)
        jobs.append(wall)
        print(f"round {r + 1}: single process {singles[-1]:.1f} s, Spark job ({parts} partitions) {wall:.1f} s", flush=True)
    spark.stop()

    n, dim, data = read_npy(ref)
    width = 4 * dim
    bad = [i for i in range(n) if base64.b64decode(rows.get(i, "")) != data[i * width:(i + 1) * width]]
    extra = len(rows) - n
    print(f"rows: single process {n}, Spark {len(rows)}; bit-identical {n - len(bad)}/{n}")
    if bad or extra:
        print(f"FAIL: {len(bad)} rows differ (first {bad[:5]}), {extra} unexpected rows")
        sys.exit(1)
    s, j = sorted(singles)[len(singles) // 2], sorted(jobs)[len(jobs) // 2]
    print(f"median single process {s:.1f} s ({n / s:.0f} rows/s), Spark job {j:.1f} s ({n / j:.0f} rows/s): "
          f"Spark overhead {100 * (j / s - 1):+.1f}%")


if __name__ == "__main__":
    main()
