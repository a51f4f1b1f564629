// Package hub pulls BERT-family models from the Hugging Face hub and turns
// them into bertserve model directories, without Python.
//
// Pull speaks the hub's HTTP protocol directly, as huggingface_hub does
// (file_download.py, utils/_http.py, utils/_auth.py) and as the live hub
// answers:
//
//	GET  {endpoint}/api/models/{org}/{name}/revision/{revision}
//	     JSON: "sha" (the commit the revision points to) and "siblings"
//	     (the repo's files). A renamed repo answers a relative 307 to its
//	     new name, followed with the token (same host).
//	HEAD {endpoint}/{org}/{name}/resolve/{commit}/{path}
//	     Every answer carries X-Repo-Commit. A file kept in git answers a
//	     relative 307 to /api/resolve-cache/models/{org}/{name}/{commit}/{path}?...,
//	     whose HEAD answers 200 with the git blob sha1 as ETag and the size
//	     as Content-Length. A file kept in LFS (today Xet-backed) answers
//	     302 to a signed CDN link that expires after about an hour; on that
//	     302 X-Linked-Etag is the content's sha256 and X-Linked-Size its
//	     size, while its own ETag is the LFS pointer's sha1 and its
//	     Content-Length the redirect body's. The Xet headers (X-Xet-Hash,
//	     Link rel="xet-auth") are for Xet clients; Pull downloads through
//	     the plain-HTTP bridge the Location points at.
//	GET  the resolved location, with "Range: bytes=N-" to resume.
//
// Pull follows the hub's own redirects (same host) and stops at the first
// redirect to another host, reading the file's description off it: hash
// and size only from X-Linked-*. When a proxy or mirror strips those, the
// file is checked by size only (learned from the CDN's answer) and the
// progress line says so. An answer without X-Repo-Commit or an ETag is not
// the hub's (a captive portal, a proxy's page, a wrong HF_ENDPOINT) and
// fails with ErrNotHub before anything is saved;
// Options.AllowMissingHubHeaders accepts mirrors that leave them out.
//
// Errors come back with X-Error-Code (RepoNotFound, RevisionNotFound,
// EntryNotFound, GatedRepo) and X-Error-Message, which Pull turns into
// ErrNotFound, ErrUnauthorized (with where the token came from, or where
// none was found) and ErrDisabled ("Access to this resource is
// disabled."), each with a next step. A hub that cannot be reached at all
// is ErrUnreachable, whose message points at HF_ENDPOINT (a mirror) and at
// `bertserve import --from DIR` (files fetched elsewhere).
//
// Every request goes through one retry rule: dropped connections and 408,
// 429 and 5xx answers are retried after the wait the answer asks for
// (Retry-After, or once the quota is spent the hub's RateLimit header,
// `"api";r=0;t=55`, with RateLimit-Policy naming the quota in messages),
// else after a backoff from 250ms to 8s; a wait of more than ten minutes
// fails with ErrRateLimited instead. A 401/403/404 from a host other than
// the hub while downloading is the CDN refusing its link (most often
// expired): Pull asks the hub for a fresh one and resumes at the current
// offset; it never reads that as a gated repo.
//
// What gets downloaded depends on the repository. With config.json,
// model.safetensors (or the shards that model.safetensors.index.json
// names) and a tokenizer, Pull takes those and the sentence-transformers
// files (modules.json, 1_Pooling/config.json) and converts them with
// models.ImportHF, even when the repository also has an ONNX export: the
// safetensors are the checkpoint itself. A repository with only an ONNX
// export (onnx/model.onnx, as Optimum and Xenova publish many) gets its
// graph, tokenizer and side files, and models.ImportONNX recovers the
// BERT weights from the graph, so the directory holds model.safetensors
// and a builder-written model.onnx either way; an export the recovery
// does not know (quantized, fused, another architecture) is used as it
// is, and the progress line says why training inside the encoder will
// not work on it. It
// never downloads pytorch_model.bin: unpickling runs code from the file,
// so a repository with only pickled weights is refused with
// ErrUnsupported and a pointer to safetensors conversions.
//
// Downloads are careful about partial state:
//
//   - All files come from the one commit the revision resolved to.
//   - Each file is written to <name>.incomplete in a staging folder next
//     to the destination (.<dir>.download-<commit>); a dropped connection
//     is resumed with a Range request, and a pull that still fails on the
//     network, a rate limit or a captive portal keeps the staging folder
//     so that running it again continues where it stopped.
//   - Every file is checked against the hub's sha256 (LFS) or git blob
//     sha1 before it is used; a mismatch deletes it and fails the pull.
//   - The model directory is assembled in a temporary folder and renamed
//     over the destination at the end (an atomic exchange on Linux), so
//     the destination is either the previous model or the new one, never a
//     mix. An existing destination that is not a model directory is never
//     replaced.
//
// Two pulls of the same repository into the same directory at the same
// time are not coordinated; run one at a time.
//
// Options default from the environment the way the hub's own tools do:
// HF_ENDPOINT for the base URL, and the token from HF_TOKEN, else
// HUGGING_FACE_HUB_TOKEN, else the file HF_TOKEN_PATH or HF_HOME/token
// (default ~/.cache/huggingface/token, where `hf auth login` saves it),
// white space stripped. The token is only sent to the endpoint's host:
// never to the CDN, and never along a redirect to another host (Go's
// default would forward it to subdomains such as cdn-lfs.huggingface.co).
package hub
