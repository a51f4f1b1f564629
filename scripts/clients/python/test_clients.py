"""The official Python clients against a live `bertserve serve`, used as
their own documentation shows them: openai, huggingface_hub's
InferenceClient, and Triton's Open Inference Protocol client (tritonclient)
for /v2. Every check compares values with `bertserve embed` and
`bertserve predict` on the same texts. Also: two replicas on one heads
directory, a head trained through one appearing on the other.

Run by scripts/clients/run.sh (environment: BERTSERVE_A, BERTSERVE_B,
BERTSERVE_REF, BERTSERVE_ADMIN_TOKEN). Prints "N passed, N failed".
"""

import json
import os
import sys
import time
import traceback
import urllib.error
import urllib.request

import numpy as np

A = os.environ["BERTSERVE_A"]
B = os.environ["BERTSERVE_B"]
REF = os.environ["BERTSERVE_REF"]
ADMIN = os.environ["BERTSERVE_ADMIN_TOKEN"]

texts = [l for l in open(os.path.join(REF, "texts.txt"), encoding="utf-8").read().split("\n") if l]
raw = np.array([json.loads(l)["embedding"] for l in open(os.path.join(REF, "embed.jsonl"))], dtype=np.float32)
unit = raw / np.linalg.norm(raw, axis=1, keepdims=True)
scores = [json.loads(l) for l in open(os.path.join(REF, "predict.jsonl"))]

tests = []


def test(fn):
    tests.append(fn)
    return fn


def close_vec(got, want, what):
    got = np.asarray(got, dtype=np.float32)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, want {want.shape}"
    diff = float(np.max(np.abs(got - want)))
    assert diff <= 1e-5, f"{what}: differs from bertserve embed by {diff}"


def close_scores(got, want, what):
    assert [g["label"] for g in got] == [w["label"] for w in want], f"{what}: labels {got}, bertserve predict {want}"
    for g, w in zip(got, want):
        assert abs(g["score"] - w["score"]) <= 1e-6, f"{what}: score {g['score']}, bertserve predict {w['score']}"


@test
def openai_embeddings():
    from openai import OpenAI

    client = OpenAI(base_url=A + "/v1", api_key="not-needed")
    r = client.embeddings.create(model="default", input=texts)
    close_vec([d.embedding for d in r.data], unit, "openai floats")
    r = client.embeddings.create(model="default", input=texts[:2], encoding_format="base64")
    import base64

    got = [np.frombuffer(base64.b64decode(d.embedding), dtype="<f4") for d in r.data]
    close_vec(got, unit[:2], "openai base64")
    assert r.usage.prompt_tokens == r.usage.total_tokens > 0


@test
def openai_errors():
    import openai

    client = openai.OpenAI(base_url=A + "/v1", api_key="not-needed")
    try:
        client.embeddings.create(model="default", input="")
    except openai.BadRequestError as e:
        assert e.status_code == 400 and "empty string" in e.message, e
        assert e.type == "invalid_request_error" and e.param == "input", (e.type, e.param)
    else:
        raise AssertionError("an empty input was accepted")


@test
def hf_feature_extraction():
    from huggingface_hub import InferenceClient

    client = InferenceClient(model=A)
    out = client.feature_extraction(texts[0], normalize=False)
    close_vec(out, raw[:1], "feature_extraction")
    out = client.feature_extraction(texts[1])
    close_vec(out, unit[1:2], "feature_extraction normalised")


@test
def hf_text_classification():
    from huggingface_hub import InferenceClient

    client = InferenceClient(model=A + "/heads/sentiment")
    for i, t in enumerate(texts):
        out = client.text_classification(t)
        close_scores([{"label": o.label, "score": o.score} for o in out], scores[i], f"text {i}")
    top = client.text_classification(texts[0], top_k=1)
    close_scores([{"label": o.label, "score": o.score} for o in top], scores[0][:1], "top_k 1")
    # The root of a server with a default head classifies too.
    out = InferenceClient(model=B).text_classification(texts[2])
    close_scores([{"label": o.label, "score": o.score} for o in out], scores[2], "root")


@test
def hf_errors():
    from huggingface_hub import InferenceClient
    from huggingface_hub.errors import HfHubHTTPError

    try:
        InferenceClient(model=A + "/heads/nope").text_classification("x")
    except HfHubHTTPError as e:
        assert e.response.status_code == 404 and 'unknown head "nope"' in str(e), str(e)
    else:
        raise AssertionError("an unknown head answered")


def triton(url):
    import tritonclient.http as httpclient

    return httpclient, httpclient.InferenceServerClient(url=url.removeprefix("http://"))


@test
def oip_triton_client():
    httpclient, client = triton(A)
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("sentiment")
    meta = client.get_model_metadata("sentiment")
    assert meta["name"] == "sentiment" and meta["inputs"][0]["datatype"] == "BYTES", meta
    labels = meta["labels"]
    for binary in (True, False):  # Triton's binary tensors (the default) and JSON
        inp = httpclient.InferInput("text", [len(texts)], "BYTES")
        inp.set_data_from_numpy(np.array([t.encode() for t in texts], dtype=np.object_), binary_data=binary)
        outs = None if binary else [httpclient.InferRequestedOutput(n, binary_data=False) for n in ("label", "score", "probabilities")]
        res = client.infer("sentiment", [inp], outputs=outs)
        got_labels = [l.decode() if isinstance(l, bytes) else l for l in res.as_numpy("label").tolist()]
        assert got_labels == [s[0]["label"] for s in scores], (binary, got_labels)
        assert np.allclose(res.as_numpy("score"), [s[0]["score"] for s in scores], atol=1e-6), binary
        probs = res.as_numpy("probabilities")
        for i, s in enumerate(scores):
            for entry in s:
                assert abs(probs[i][labels.index(entry["label"])] - entry["score"]) <= 1e-6
    try:
        client.infer("nope", [inp])
    except Exception as e:  # tritonclient's InferenceServerException
        assert "unknown model" in str(e), str(e)
    else:
        raise AssertionError("an unknown model answered")


def call(method, url, body=None, token=None, content_type="application/json"):
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", content_type)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def wait(cond, what, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {seconds}s")


@test
def tei_predict_on_the_default_head():
    code, out = call("POST", B + "/predict", {"inputs": texts[0]})
    assert code == 200, out
    close_scores(out, scores[0], "/predict")
    code, out = call("POST", B + "/predict", {"inputs": [[t] for t in texts[:2]]})
    assert code == 200 and len(out) == 2, out
    close_scores(out[1], scores[1], "/predict batch")


@test
def replicas_share_heads():
    rows = open(os.path.join(REF, "train.tsv"), encoding="utf-8").read()
    code, job = call("POST", A + "/v1/heads/fresh/train", rows.encode(), ADMIN, "text/tab-separated-values")
    assert code == 202, job
    wait(lambda: call("GET", A + "/v1/jobs/" + job["id"])[1]["state"] in ("succeeded", "failed"), "training through replica a", 300)
    assert call("GET", A + "/v1/jobs/" + job["id"])[1]["state"] == "succeeded"
    # Replica b sees the head within --heads-refresh, with the same answers.
    wait(lambda: call("GET", B + "/v1/heads/fresh")[0] == 200, "the head on replica b")
    _, on_a = call("POST", A + "/heads/fresh", {"inputs": texts})
    _, on_b = call("POST", B + "/heads/fresh", {"inputs": texts})
    for i in range(len(texts)):
        close_scores(on_b[i], on_a[i], f"replica b, text {i}")
    # Deleted through replica a: gone from b, as a model too.
    assert call("DELETE", A + "/v1/heads/fresh", token=ADMIN)[0] == 200
    wait(lambda: call("GET", B + "/v1/heads/fresh")[0] == 404, "the deletion on replica b")
    assert call("GET", B + "/v2/models/fresh/ready")[0] == 404


def main():
    passed = failed = 0
    for fn in tests:
        try:
            fn()
            passed += 1
            print(f"ok   {fn.__name__}", flush=True)
        except Exception:
            failed += 1
            print(f"FAIL {fn.__name__}", flush=True)
            traceback.print_exc()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
