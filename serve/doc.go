// Package serve is bertserve's HTTP API: one frozen encoder, any number of
// classification heads on top of it, and the plumbing that keeps that fast
// and well-behaved under load.
//
// # Routes
//
//	POST   /v1/classify            the transformers pipeline: {"inputs", "head" | "heads", "top_k", "function_to_apply", "parameters"}
//	POST   /                       TEI / Hugging Face Inference: classifies with the default head, else embeds (RootTask)
//	POST   /heads/{name}           Hugging Face Inference text classification with that head: [[{label, score}, ...]] per input
//	POST   /predict                TEI: the default head, every label; {"inputs": str | [a, b] | [[a], ...], "raw_scores"}
//	POST   /embed                  TEI: {"inputs", "normalize", "truncate", "truncation_direction", "dimensions"} → [[float]]
//	POST   /v1/embeddings          OpenAI (also /embeddings): {"input", "model", "encoding_format", "dimensions"}
//	POST   /tokenize               TEI: {"inputs", "add_special_tokens", "truncate"} → [[{id, text, special, start, stop}]]
//	GET    /info /health /ready /metrics   (HEAD too for /health and /ready)
//	GET    /v1/heads, /v1/heads/{name}   labels, metrics, loss curves
//	DELETE /v1/heads/{name}              admin
//	POST   /v1/heads/{name}/train        admin; CSV, TSV, JSON Lines, multipart or JSON → 202 + job id
//	GET    /v1/jobs, /v1/jobs/{id}       state, epoch, curves so far, final metrics
//	DELETE /v1/jobs/{id}                 admin; cancels
//	GET    /                             the embedded web page
//	GET    /v2, /v2/health/{live,ready}, /v2/models/{head}[/ready]   the Open Inference Protocol (oip.go)
//	POST   /v2/models/{head}/infer       a BYTES input of texts → label, score, probabilities
//
// Classification answers in the shapes the clients expect: /v1/classify as
// the pipeline (one {"label","score"} per input without top_k, a list per
// input with it, an object keyed by head with "heads"); POST / and
// /heads/{name} as the Inference API (a list per input, all labels unless
// top_k); /predict as TEI. Each request's texts are embedded once, however
// many heads it names. Inputs over the model's length are cut by default
// (Config.NoAutoTruncate turns that off), token-id inputs are embedded as
// given, and an empty string is refused on every route.

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
// refused at once with 429 and Retry-After. A request takes its slot only
// once its body is read (within ReadTimeout, else 408) and parsed
// (inferRoute, the rule of every inference route), so slow senders hold
// connections, never slots. RequestTimeout then ends a request with 503
// if it never reached the encoder, 504 if it did. One input costs at most
// the model's maximum length in tokens on every route, /tokenize too.
//
// # Errors
//
// Every error comes from the one *Error type, written by the server's
// error handler in the shape of the route's family (errorshape.go): TEI's
// {"error": "...", "error_type": "Validation" | "Empty" | "Tokenizer" |
// "Overloaded" | "Backend" | "Unhealthy"} on the TEI and Hugging Face
// routes, OpenAI's {"error": {"message", "type", "param", "code"}} (plus
// TEI's "message", "code", "error_type") on /v1, the Open Inference
// Protocol's {"error": "..."} on /v2. Codes are TEI's: malformed JSON or
// an empty input 400, well-formed JSON of the wrong shape 422, too many
// inputs, too large a body or (without truncation) too long an input 413,
// unknown head 404, wrong content type 415, overloaded 429, a failing
// model 424, not loaded 503, timeouts 503/504. /v1 turns 413 and 422 into
// OpenAI's 400.

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
// # Replicas
//
// With Config.HeadsRefresh, servers sharing one heads directory reread it
// (RefreshHeads, refresh.go): heads saved, replaced or deleted by another
// server appear, change or disappear here with the same atomic swap, and a
// head that does not load yet is skipped while the served version stays.
//
// # Security
//
// Admin routes need "Authorization: Bearer <admin token>", compared in
// constant time; with no token configured they are disabled (403), not
// open. An optional API key guards the read routes. Head names are
// validated before they touch the file system, and bodies and uploads are
// size-limited.
package serve
