// The official Node clients against a live `bertserve serve`, as their own
// documentation shows them for OpenAI and Hugging Face endpoints. Run by
// scripts/clients/run.sh, which starts the servers and writes the
// reference outputs of `bertserve embed` and `bertserve predict`.
//
//   BERTSERVE_A    a server with two heads and no default: POST / embeds
//   BERTSERVE_B    a replica on the same heads with --default-head sentiment
//   BERTSERVE_REF  the folder with texts.txt, embed.jsonl, predict.jsonl
import test from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import OpenAI from "openai";
import { InferenceClient } from "@huggingface/inference";

const A = process.env.BERTSERVE_A;
const B = process.env.BERTSERVE_B;
const ref = process.env.BERTSERVE_REF;
const texts = fs.readFileSync(path.join(ref, "texts.txt"), "utf8").split("\n").filter((l) => l !== "");
const lines = (f) => fs.readFileSync(path.join(ref, f), "utf8").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
const unit = (v) => { const n = Math.hypot(...v); return v.map((x) => x / n); };
const vectors = lines("embed.jsonl").map((r) => unit(r.embedding)); // /v1/embeddings and /embed normalise
const rawVectors = lines("embed.jsonl").map((r) => r.embedding);
const scores = lines("predict.jsonl"); // [{label, score}, ...] per text, best first

function closeVec(got, want, tol, what) {
  assert.equal(got.length, want.length, `${what}: ${got.length} values, want ${want.length}`);
  for (let i = 0; i < want.length; i++) {
    assert.ok(Math.abs(got[i] - want[i]) <= tol, `${what}[${i}] = ${got[i]}, bertserve embed gives ${want[i]}`);
  }
}

function closeScores(got, want, what) {
  assert.deepEqual(got.map((x) => x.label), want.map((x) => x.label), `${what}: labels`);
  for (let i = 0; i < want.length; i++) {
    assert.ok(Math.abs(got[i].score - want[i].score) <= 1e-6, `${what}: score ${got[i].score}, bertserve predict gives ${want[i].score}`);
  }
}

const openai = new OpenAI({ baseURL: A + "/v1", apiKey: "not-needed" });

test("openai embeddings.create, floats", async () => {
  const r = await openai.embeddings.create({ model: "default", input: texts, encoding_format: "float" });
  assert.equal(r.data.length, texts.length);
  r.data.forEach((d, i) => closeVec(d.embedding, vectors[i], 1e-5, `text ${i}`));
  assert.ok(r.usage.prompt_tokens > texts.length);
});

test("openai embeddings.create, the SDK's default (base64, decoded by the SDK)", async () => {
  const r = await openai.embeddings.create({ model: "default", input: texts[0] });
  closeVec(Array.from(r.data[0].embedding), vectors[0], 1e-5, "base64");
});

test("openai embeddings.create, explicit base64", async () => {
  const r = await openai.embeddings.create({ model: "default", input: [texts[1]], encoding_format: "base64" });
  const buf = Buffer.from(r.data[0].embedding, "base64");
  const got = Array.from(new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4));
  closeVec(got, vectors[1], 1e-5, "base64");
});

test("openai errors are the SDK's BadRequestError with the server's message", async () => {
  await assert.rejects(openai.embeddings.create({ model: "default", input: "" }), (e) => {
    assert.ok(e instanceof OpenAI.BadRequestError, `got ${e}`);
    assert.equal(e.status, 400);
    assert.match(e.message, /empty string/);
    return true;
  });
});

const hf = new InferenceClient();

test("@huggingface/inference featureExtraction at the endpoint's root", async () => {
  const out = await hf.featureExtraction({ endpointUrl: A, inputs: texts[0], normalize: false });
  closeVec(out[0], rawVectors[0], 1e-5, "featureExtraction");
  const many = await hf.endpoint(A).featureExtraction({ inputs: texts.slice(0, 2) });
  closeVec(many[1], vectors[1], 1e-5, "featureExtraction batch");
});

test("@huggingface/inference textClassification at a per-head endpoint URL", async () => {
  for (let i = 0; i < texts.length; i++) {
    const out = await hf.textClassification({ endpointUrl: A + "/heads/sentiment", inputs: texts[i] });
    closeScores(out, scores[i], `text ${i}`);
  }
  const top = await hf.textClassification({ endpointUrl: A + "/heads/sentiment", inputs: texts[0], parameters: { top_k: 1 } });
  closeScores(top, scores[0].slice(0, 1), "top_k 1");
});

test("@huggingface/inference textClassification at the root of a server with a default head", async () => {
  const out = await hf.endpoint(B).textClassification({ inputs: texts[2] });
  closeScores(out, scores[2], "root");
});

test("@huggingface/inference errors carry the server's message", async () => {
  await assert.rejects(hf.textClassification({ endpointUrl: A + "/heads/nope", inputs: "x" }), /unknown head "nope"/);
});
