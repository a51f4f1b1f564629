#!/usr/bin/env node
// unicode.js asks Hugging Face tokenizers (the pinned npm package) how its
// BertNormalizer and BertPreTokenizer treat every Unicode code point, and
// writes the answer to encoder/testdata/tokref/unicode_hf.json.gz.
//
// Hugging Face classifies characters with tables from several Unicode
// versions (Rust std for whitespace and case mapping, the older
// unicode_categories crate for control, punctuation and non-spacing marks),
// so Go's unicode package does not reproduce it exactly. encoder's
// wordpiece_tables.go is generated from this file (go generate ./encoder)
// and TestWordPieceUnicodeTables checks every code point against it.
//
// Usage: node scripts/tokref/unicode.js [out.json.gz]
//
// Output: {"version", "clean_removed", "clean_space", "chinese", "punct",
// "pre_space", "mark": [[lo, hi], ...] (inclusive code point ranges),
// "nfd", "strip", "lower": [[cp, "mapped"], ...] (the output of NFD, of
// strip_accents and of lowercase alone, only for code points they change)}.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const t = require('tokenizers');

const out = process.argv[2] || path.resolve(__dirname, '..', '..', 'encoder', 'testdata', 'tokref', 'unicode_hf.json.gz');

const bert = (o) =>
  t.bertNormalizer(Object.assign({ cleanText: false, handleChineseChars: false, stripAccents: false, lowercase: false }, o));
const clean = bert({ cleanText: true });
const chinese = bert({ handleChineseChars: true });
const strip = bert({ stripAccents: true });
const lower = bert({ lowercase: true });
const nfd = t.nfdNormalizer();
const pre = t.bertPreTokenizer();

const sets = { clean_removed: [], clean_space: [], chinese: [], punct: [], pre_space: [], mark: [] };
const maps = { nfd: [], strip: [], lower: [] };

function add(name, c) {
  const r = sets[name];
  const last = r[r.length - 1];
  if (last && last[1] === c - 1) last[1] = c;
  else r.push([c, c]);
}

for (let c = 0; c <= 0x10ffff; c++) {
  if (c >= 0xd800 && c <= 0xdfff) continue; // surrogates are not characters
  const s = String.fromCodePoint(c);
  const cl = clean.normalizeString(s);
  if (cl === '') add('clean_removed', c);
  else if (cl === ' ') add('clean_space', c);
  else if (cl !== s) throw new Error(`clean_text maps U+${c.toString(16)} to ${JSON.stringify(cl)}`);
  if (chinese.normalizeString(s) !== s) add('chinese', c);
  const p = pre.preTokenizeString('a' + s + 'a');
  if (p.length === 3) add('punct', c);
  else if (p.length === 2) add('pre_space', c);
  const d = nfd.normalizeString(s);
  if (d !== s) maps.nfd.push([c, d]);
  const st = strip.normalizeString(s);
  if (st !== s) maps.strip.push([c, st]);
  if (d === s && st === '') add('mark', c);
  const l = lower.normalizeString(s);
  if (l !== s) maps.lower.push([c, l]);
}

const pkg = require('tokenizers/package.json');
const body = JSON.stringify(Object.assign({ version: `tokenizers@${pkg.version}` }, sets, maps));
fs.writeFileSync(out, zlib.gzipSync(Buffer.from(body, 'utf8'), { level: 9 }));
for (const k in sets) console.log(k, sets[k].length, 'ranges');
for (const k in maps) console.log(k, maps[k].length, 'code points');
console.log(`${out}: ${fs.statSync(out).size} bytes`);
