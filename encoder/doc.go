// Package encoder turns text into fixed-size embeddings with a frozen
// BERT-family encoder exported to ONNX and run by ONNX Runtime.
//
// The flow is: tokenize (Hugging Face tokenizer.json through
// github.com/sugarme/tokenizer) → sort by length and pad per batch within a
// token budget → ONNX Runtime session → pool (cls, masked mean, pooler, or
// the model's own pooled output) → optional L2 normalisation. Results come
// back in input order and never depend on their batch-mates.
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
