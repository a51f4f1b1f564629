// Package encoder turns text into fixed-size embeddings with a frozen
// BERT-family encoder exported to ONNX and run by ONNX Runtime.
//
// The flow is: tokenize (Hugging Face tokenizer.json through
// github.com/sugarme/tokenizer) → sort by length and pad per batch within a
// token budget → ONNX Runtime session → pool (cls, masked mean, pooler, or
// the model's own pooled output) → optional L2 normalisation. Results come
// back in input order and never depend on their batch-mates.
//
// Texts go through in chunks of ChunkRows: EmbedStream takes the chunks
// from a function (a file read as it goes, stdin, one shard of a corpus),
// reads and tokenizes the next chunk while the model runs the current one,
// and sorts and batches within each chunk, so a corpus of any length is
// embedded in bounded memory; Embed and EmbedChunks are EmbedStream over a
// slice. Package encoder/stream builds `bertserve embed` on it (files,
// stdin, shards, checkpoints and resuming).
//
// Training a head on the encoder's own top layers splits the model (see
// models/split): OpenBottom runs the bottom graph (embeddings and layers
// below the split) with the same tokenization and batching, and
// FillHidden stores each text's hidden states over its real tokens in a
// HiddenCache (float16 by default, memory-mapped, keyed by encoder digest,
// split layer, maximum length and text), after checking from the token
// counts that the disk holds them. The resulting HiddenStates hand rows to
// package head's training loop; a second training on the same data and
// split runs no encoder work.
//
// The ONNX Runtime shared library is located by FindLibrary: an explicit
// path, then $ONNXRUNTIME_LIB, then the cache that scripts/setup.sh fills.
package encoder
