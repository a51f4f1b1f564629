#!/usr/bin/env node
// gen.js writes the Hugging Face reference token ids that encoder's WordPiece
// parity tests compare against (encoder/wordpiece_parity_test.go).
//
// Reference implementation: the npm package `tokenizers` (Hugging Face's
// Rust tokenizers through its Node binding), version pinned in package.json.
// Padding and truncation of the tokenizer.json files are switched off; the
// truncation references set max_length explicitly (strategy longest_first).
//
// Usage (from the repository root, after `npm ci --prefix scripts/tokref`):
//
//	node scripts/tokref/gen.js [--data ../shared/data]
//	    [--uncased ~/.cache/bertserve/vocab/bert-base-uncased/tokenizer.json]
//	    [--chinese ../shared/vocab/bert-base-chinese/tokenizer.json]
//	    [--out encoder/testdata/tokref]
//
// Real data is never copied into the repository: a record for a line of
// ../shared/data names its file, line number (0-based, split on "\n" only)
// and decoding instead of holding the text; the Go test reads the line back
// the same way. Hand-written hard cases carry their text.
//
// Outputs (JSON Lines, gzip):
//
//	en.jsonl.gz     English lines, bert-base-uncased
//	zh.jsonl.gz     Chinese lines, bert-base-chinese
//	cross.jsonl.gz  Chinese lines through bert-base-uncased and English lines
//	                through bert-base-chinese (cased, no accent stripping)
//	hard.jsonl.gz   hand-written hard cases through both tokenizers
//	pairs.jsonl.gz  sentence pairs with type ids, and truncated encodings
//
// Each record: {"tokenizer", "src"+"line"+"enc" | "text", ["src_b"+"line_b"+
// "enc_b" | "text_pair"], ["max_length"], "ids", ["type_ids"]}. type_ids is
// written for pairs only (single sequences are all type 0).
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const zlib = require('node:zlib');
const { Tokenizer } = require('tokenizers');
const { hardCases, hardPairs } = require('./hard_cases.js');

const repo = path.resolve(__dirname, '..', '..');

function parseArgs(argv) {
  const a = {
    data: path.resolve(repo, '..', 'shared', 'data'),
    uncased: path.join(cacheDir(), 'vocab', 'bert-base-uncased', 'tokenizer.json'),
    chinese: path.resolve(repo, '..', 'shared', 'vocab', 'bert-base-chinese', 'tokenizer.json'),
    out: path.join(repo, 'encoder', 'testdata', 'tokref'),
  };
  for (let i = 2; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '');
    if (!(k in a) || i + 1 >= argv.length) {
      throw new Error(`unknown or incomplete flag ${argv[i]}; flags: --data --uncased --chinese --out`);
    }
    a[k] = path.resolve(argv[i + 1]);
  }
  return a;
}

// cacheDir mirrors encoder.CacheDir.
function cacheDir() {
  if (process.env.BERTSERVE_CACHE) return process.env.BERTSERVE_CACHE;
  if (process.env.XDG_CACHE_HOME) return path.join(process.env.XDG_CACHE_HOME, 'bertserve');
  return path.join(os.homedir(), '.cache', 'bertserve');
}

// English sources: [file under data, decoding, lines to sample].
// Decodings: utf8 (raw line, invalid bytes become U+FFFD), latin1 (each byte
// is one code point), jsonl:text (the "text" field of a JSON line).
const englishSources = [
  ['sst2/train.tsv', 'utf8', 2000],
  ['sst2/dev.tsv', 'utf8', 873],
  ['sst2/test.tsv', 'utf8', 1000],
  ['sst2-glue/train.tsv', 'utf8', 2000],
  ['trec6/train.jsonl', 'jsonl:text', 1000],
  ['trec6/test.jsonl', 'jsonl:text', 500],
  ['more/senteval_harvardnlp/data/rt-polarity.all', 'latin1', 1000],
  ['more/senteval_harvardnlp/data/subj.all', 'latin1', 1000],
  ['more/senteval_harvardnlp/data/TREC.train.all', 'latin1', 500],
  ['more/senteval_harvardnlp/data/custrev.all', 'utf8', 1000],
  ['more/senteval_harvardnlp/data/mpqa.all', 'utf8', 1000],
  ['more/senteval_harvardnlp/data/stsa.fine.train', 'utf8', 500],
  ['more/uci_sentiment_labelled/amazon_cells_labelled.txt', 'utf8', 500],
  ['more/uci_sentiment_labelled/imdb_labelled.txt', 'utf8', 500],
  ['more/uci_sentiment_labelled/yelp_labelled.txt', 'utf8', 500],
  ['more/imdb_fastai_sample/texts.csv', 'utf8', 200],
  ['more/agnews_alps/test.tsv', 'utf8', 1000],
];

const chineseSources = [
  ['chnsenticorp/train.tsv', 'utf8', 1000],
  ['chnsenticorp/dev.tsv', 'utf8', 500],
  ['chnsenticorp/test.tsv', 'utf8', 500],
  ['more/chinese_sophonplus/ChnSentiCorp_htl_all.csv', 'utf8', 500],
  ['more/chinese_sophonplus/online_shopping_10_cats.part0.csv', 'utf8', 500],
  ['more/chinese_sophonplus/online_shopping_10_cats.part1.csv', 'utf8', 500],
  ['more/chinese_sophonplus/online_shopping_10_cats.part2.csv', 'utf8', 500],
  ['more/chinese_sophonplus/waimai_10k.csv', 'utf8', 1000],
  ['more/tnews_bertorch/train.tsv', 'utf8', 1000],
  ['more/tnews_bertorch/dev.tsv', 'utf8', 500],
];

// readLines splits a file on "\n" only (these files hold U+0085 and \r,
// which other splitters treat as line breaks). A final empty line after the
// last "\n" is dropped.
function readLines(file) {
  const buf = fs.readFileSync(file);
  const lines = [];
  let start = 0;
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] === 0x0a) {
      lines.push(buf.subarray(start, i));
      start = i + 1;
    }
  }
  if (start < buf.length) lines.push(buf.subarray(start));
  return lines;
}

function decode(line, enc) {
  switch (enc) {
    case 'utf8':
      return line.toString('utf8');
    case 'latin1':
      return line.toString('latin1');
    case 'jsonl:text':
      return JSON.parse(line.toString('utf8')).text;
    default:
      throw new Error(`unknown decoding ${enc}`);
  }
}

// sample picks n line numbers spread evenly over the file.
function sample(total, n) {
  if (n >= total) return [...Array(total).keys()];
  const out = [];
  for (let i = 0; i < n; i++) out.push(Math.floor((i * total) / n));
  return out;
}

function loadSources(dataDir, sources) {
  const rows = [];
  for (const [file, enc, n] of sources) {
    const lines = readLines(path.join(dataDir, file));
    for (const line of sample(lines.length, n)) {
      rows.push({ src: file, line, enc, text: decode(lines[line], enc) });
    }
  }
  return rows;
}

function load(file) {
  const tk = Tokenizer.fromFile(file);
  tk.disablePadding();
  tk.disableTruncation();
  return tk;
}

async function encode(tk, a, b, maxLength) {
  if (maxLength) {
    tk.setTruncation(maxLength, { strategy: 'LongestFirst' });
  } else {
    tk.disableTruncation();
  }
  try {
    const e = await tk.encode(a, b === undefined ? null : b, { addSpecialTokens: true });
    return { ids: e.getIds(), type_ids: e.getTypeIds() };
  } catch (err) {
    // Hugging Face refuses a max_length below the special tokens' count;
    // bertserve never fails there, so the record keeps the error instead.
    return { error: String(err.message || err) };
  }
}

// record drops the text of real-data rows: they are referenced by file+line.
function record(tokName, row, rowB, enc, maxLength) {
  const r = { tokenizer: tokName };
  if (row.src) Object.assign(r, { src: row.src, line: row.line, enc: row.enc });
  else r.text = row.text;
  if (rowB) {
    if (rowB.src) Object.assign(r, { src_b: rowB.src, line_b: rowB.line, enc_b: rowB.enc });
    else r.text_pair = rowB.text;
  }
  if (maxLength) r.max_length = maxLength;
  if (enc.error) {
    r.error = enc.error;
    return r;
  }
  r.ids = enc.ids;
  if (rowB) r.type_ids = enc.type_ids;
  return r;
}

function writeGz(file, records) {
  const body = records.map((r) => JSON.stringify(r)).join('\n') + '\n';
  fs.writeFileSync(file, zlib.gzipSync(Buffer.from(body, 'utf8'), { level: 9 }));
  console.log(`${path.relative(repo, file)}: ${records.length} records, ${fs.statSync(file).size} bytes`);
}

async function singles(tk, name, rows, maxLength) {
  const out = [];
  for (const row of rows) out.push(record(name, row, null, await encode(tk, row.text, undefined, maxLength), maxLength));
  return out;
}

function every(rows, k) {
  return rows.filter((_, i) => i % k === 0);
}

async function main() {
  const a = parseArgs(process.argv);
  for (const f of [a.uncased, a.chinese]) {
    if (!fs.existsSync(f)) throw new Error(`${f} not found (run make setup for bert-base-uncased; ../shared/vocab holds bert-base-chinese)`);
  }
  fs.mkdirSync(a.out, { recursive: true });
  const toks = { 'bert-base-uncased': load(a.uncased), 'bert-base-chinese': load(a.chinese) };
  const U = 'bert-base-uncased';
  const Z = 'bert-base-chinese';

  const en = loadSources(a.data, englishSources);
  const zh = loadSources(a.data, chineseSources);

  writeGz(path.join(a.out, 'en.jsonl.gz'), await singles(toks[U], U, en));
  writeGz(path.join(a.out, 'zh.jsonl.gz'), await singles(toks[Z], Z, zh));
  writeGz(path.join(a.out, 'cross.jsonl.gz'), [
    ...(await singles(toks[U], U, every(zh, 8))),
    ...(await singles(toks[Z], Z, every(en, 16))),
  ]);

  const hard = [];
  for (const name of [U, Z]) {
    for (const text of hardCases) {
      hard.push(record(name, { text }, null, await encode(toks[name], text)));
    }
    for (const [x, y] of hardPairs) {
      hard.push(record(name, { text: x }, { text: y }, await encode(toks[name], x, y)));
    }
    for (const maxLength of [1, 2, 3, 4, 5, 7]) {
      for (const [x, y] of hardPairs.slice(0, 6)) {
        hard.push(record(name, { text: x }, { text: y }, await encode(toks[name], x, y, maxLength), maxLength));
      }
    }
  }
  writeGz(path.join(a.out, 'hard.jsonl.gz'), hard);

  // Pairs: line i with line i+len/2 of the same language's sample, so the
  // two halves come from different files; then truncated variants.
  const pairs = [];
  for (const [name, rows] of [[U, every(en, 25)], [Z, every(zh, 10)]]) {
    const half = Math.floor(rows.length / 2);
    const ps = [];
    for (let i = 0; i < half; i++) ps.push([rows[i], rows[i + half]]);
    for (const [x, y] of ps) pairs.push(record(name, x, y, await encode(toks[name], x.text, y.text)));
    // Truncated pairs: a fixed max_length per pair and one spread over
    // 4..64, so that both the halving and the keep-the-shorter cases occur.
    for (let i = 0; i < ps.length; i++) {
      const [x, y] = ps[i];
      for (const maxLength of [[8, 16, 33, 64][i % 4], 4 + ((i * 7) % 61)]) {
        pairs.push(record(name, x, y, await encode(toks[name], x.text, y.text, maxLength), maxLength));
      }
    }
    for (const maxLength of [3, 8, 16, 128]) {
      pairs.push(...(await singles(toks[name], name, every(rows, 4), maxLength)));
    }
  }
  writeGz(path.join(a.out, 'pairs.jsonl.gz'), pairs);
}

main().catch((err) => {
  console.error(err.message || err);
  process.exit(1);
});
