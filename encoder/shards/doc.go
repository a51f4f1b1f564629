// Package shards reads and checks directories of embedding shards: the
// output of N workers that each embedded every N-th row of one corpus
// (`bertserve embed --shard auto --shards N --output DIR/`, e.g. as a
// Kubernetes Indexed Job).
//
// Shard I of N is the rows whose corpus index r has r mod N == I, in
// order, so its row k is corpus row I + k·N. It is stored as
//
//	DIR/part-0000I-of-0000N.npy    float32 [rows, dim]
//	DIR/part-0000I-of-0000N.json   its Manifest, written after the .npy
//
// both renamed into place atomically, so a manifest that says Complete
// describes a whole file (its size and sha256 are in the manifest). A
// directory is mergeable when all N manifests are there, complete, agree
// on the model, the options and the input, and their row counts fit one
// corpus; Check names every shard that is missing, incomplete or at odds
// with the others. Merge writes the corpus-ordered matrix (row i = input
// row i) streaming, so a corpus larger than memory can be merged;
// ReadMatrix reads a shard directory (or a plain .npy) into memory for
// training.
//
// The package is pure Go (no ONNX Runtime), so head/ can read shard
// directories.
package shards
