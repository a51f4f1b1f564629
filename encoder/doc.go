// Package encoder turns text into fixed-size embeddings with a frozen
// BERT-family encoder exported to ONNX and run by ONNX Runtime.
//
// The flow is: tokenize (Hugging Face tokenizer.json through
// github.com/sugarme/tokenizer) → sort by length and pad per batch within a
// token budget → ONNX Runtime session → pool (cls, masked mean, pooler, or
// the model's own pooled output) → optional L2 normalisation. Results come
// back in input order and never depend on their batch-mates.
//
// The ONNX Runtime shared library is located by FindLibrary: an explicit
// path, then $ONNXRUNTIME_LIB, then the cache that scripts/setup.sh fills.
package encoder
