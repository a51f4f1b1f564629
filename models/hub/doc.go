// Package hub pulls BERT-family models from the Hugging Face hub and turns
// them into bertserve model directories, without Python.
//
// Pull speaks the hub's HTTP layout directly:
//
//	GET  {endpoint}/api/models/{org}/{name}/revision/{revision}
//	     JSON: "sha" (the commit the revision points to) and "siblings"
//	     (the repo's files, as [{"rfilename": ...}]).
//	HEAD {endpoint}/{org}/{name}/resolve/{commit}/{path}
//	     Files kept in git answer 200 with their git blob sha1 as ETag;
//	     files kept in LFS answer with a redirect to a CDN whose
//	     X-Linked-Etag is the content's sha256 and X-Linked-Size its size.
//	     X-Repo-Commit names the commit.
//	GET  the resolved location, with "Range: bytes=N-" to resume.
//
// Errors come back with X-Error-Code (RepoNotFound, RevisionNotFound,
// EntryNotFound, GatedRepo), which Pull turns into ErrNotFound and
// ErrUnauthorized with a next step; a hub that cannot be reached at all is
// ErrUnreachable, whose message points at HF_ENDPOINT (a mirror) and at
// `bertserve import --from DIR` (files fetched elsewhere).
//
// What gets downloaded depends on the repository. With an ONNX export
// (onnx/model.onnx, as Optimum and sentence-transformers publish it) Pull
// takes the graph, the tokenizer (tokenizer.json or vocab.txt),
// config.json and the sentence-transformers files (modules.json,
// 1_Pooling/config.json) and writes a manifest. Without one it takes
// config.json, model.safetensors (or the shards that
// model.safetensors.index.json names), the tokenizer and the
// sentence-transformers files, and converts them with models.ImportHF. It
// never downloads pytorch_model.bin: unpickling runs code from the file,
// so a repository with only pickled weights is refused with
// ErrUnsupported and a pointer to safetensors conversions.
//
// Downloads are careful about partial state:
//
//   - All files come from the one commit the revision resolved to.
//   - Each file is written to <name>.incomplete in a staging folder next
//     to the destination (.<dir>.download-<commit>); a dropped connection
//     is resumed with a Range request, with bounded retries and backoff,
//     and a pull that still fails keeps the staging folder so that running
//     it again continues where it stopped.
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
// HF_ENDPOINT for the base URL and HF_TOKEN for gated or private
// repositories. The token is only sent to the endpoint's host, never to
// the CDN that serves large files.
package hub
