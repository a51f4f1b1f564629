// Package serve is bertserve's HTTP API: one frozen encoder, any number of
// classification heads on top of it, and the plumbing that keeps that fast
// and well-behaved under load.
//
// # Routes
//
//	POST   /v1/classify            {"inputs": "text" | [...], "head": "sentiment" | "heads": [...], "top_k": 1}
//	POST   /embed                  Text Embeddings Inference: {"inputs", "normalize", "truncate"} → [[float]]
//	POST   /v1/embeddings          OpenAI: {"input", "model", "encoding_format": "float"|"base64"}
//	POST   /tokenize               TEI: {"inputs", "add_special_tokens"} → [[{id, text, special, start, stop}]]
//	GET    /info /health /ready /metrics
//	GET    /v1/heads, /v1/heads/{name}   labels, metrics, loss curves
//	DELETE /v1/heads/{name}              admin
//	POST   /v1/heads/{name}/train        admin; CSV, TSV, JSON Lines, multipart or JSON → 202 + job id
//	GET    /v1/jobs, /v1/jobs/{id}       state, epoch, curves so far, final metrics
//	DELETE /v1/jobs/{id}                 admin; cancels
//	GET    /                             the embedded web page
//
// Classification answers in the Hugging Face pipeline shape:
// [{"label","score"}] for one input, a list of those for a list of inputs,
// and with "heads" an object keyed by head. Each request's texts are
// embedded once, however many heads it names.
//
// # Seams
//
// The package depends on small interfaces, not on the encoder and head
// packages: Embedder (the encoder), Head (a classifier), HeadStore (heads
// on disk; DirStore is the real one) and TrainFunc (the trainer). The CLI
// adapts *encoder.Encoder and *head.Model to them; tests use fakes. That
// keeps the server testable without ONNX Runtime and keeps it thin:
// handlers parse, call, encode.
//
// # Batching and back-pressure
//
// A Batcher merges the texts of concurrent requests into one encoder call,
// bounded by Config.MaxBatchTokens and MaxBatchRequests, waiting at most
// MaxWait for company. While the encoder is busy, requests queue and the
// next call takes them all at once, so throughput grows with load instead
// of latency. Every request gets exactly its own vectors, in order; a
// request whose client has gone is dropped before it costs encoder time.
//
// Nothing queues without bound: beyond MaxConcurrentRequests a request is
// refused at once with 429 and Retry-After. RequestTimeout ends a request
// with 503 if it never reached the encoder, 504 if it did.
//
// # Errors
//
// Every error is JSON {"error": "...", "error_type": "validation" |
// "tokenizer" | "overloaded" | "backend" | "auth"}, produced from the one
// *Error type by the server's error handler: malformed JSON 400, empty
// inputs 400, too many inputs or too large a body 413, unknown head 404,
// wrong content type 415, overloaded 429, timeouts 503/504.
//
// # Heads and training
//
// The Registry holds the served heads as an immutable map swapped
// atomically: a request takes one snapshot, so a head replaced by a
// finished training job never mixes old and new labels within one
// response, and requests in flight finish with the head they started
// with. A training request's data are read by head's one reader of
// labelled data (head.ReadLabelled, as `bertserve train` reads files) and
// its options (query string, form fields, or the keys beside "examples"
// in a JSON body) by head's one strict decoder onto the defaults
// (head.DecodeConfig: unknown keys are a 400, an explicit 0 stays 0).
// The job calls the TrainFunc (head.Pipeline: embed, split, train,
// evaluate), saves the head through the HeadStore (the whole head in one
// temporary directory, swapped into place) and only then swaps it in.
// Cancelling a job, or shutting the server down, saves nothing.
//
// # Security
//
// Admin routes need "Authorization: Bearer <admin token>", compared in
// constant time; with no token configured they are disabled (403), not
// open. An optional API key guards the read routes. Head names are
// validated before they touch the file system, and bodies and uploads are
// size-limited.
package serve
