// Package stream embeds corpora larger than memory: one streaming core for
// files, stdin, shards and resumed runs, behind `bertserve embed`.
//
// A source yields chunks of rows (row index, input byte offset, text):
// a corpus file read row by row (encoder/corpus), keeping every N-th row
// for a shard, or a stream of JSON Lines ({"id": ..., "text": ...}) or
// plain lines. encoder.EmbedStream tokenizes the next chunk while the
// model runs the current one, and batches within a chunk by length as
// Embed does, so throughput is that of the in-memory path. An ordered
// sink writes the rows as chunks finish: an .npy whose header's row count
// is rewritten in place at the end (npy.PatchHeader), JSON Lines to a
// file, or JSON Lines to stdout flushed after every chunk. Only running
// totals are kept: memory is bounded by the chunk size (at most three
// chunks are alive), not by the corpus.
//
// Resuming. A run from a file into a file or a shard directory writes
// atomicfile.PartialPath(out) and, periodically (Job.CheckpointEvery) and
// on SIGINT/SIGTERM, a checkpoint manifest beside it
// (atomicfile.PartialManifestPath): rows done, output bytes, the input
// byte offset and line to continue from, the sha256 of the input up to
// that offset, the running totals, and the Options with their digest
// (model and tokenizer digests, pooling, normalize, max length, batching,
// chunk size, device, text column, output format, shard count). The data
// is synced before the manifest is renamed into place, so the manifest
// never claims rows the data lacks; rows written after the last
// checkpoint are cut off when the run resumes. A later run with
// ResumeAuto (the default) continues a partial output whose options,
// shard and input prefix match, seeking the corpus to the saved offset
// instead of re-reading it, and refuses one that does not match with a
// message saying what differs. Checkpoints fall on chunk boundaries and
// chunks are counted from the first row, so a resumed run cuts the rest of
// the corpus into the same chunks and batches as an uninterrupted one:
// the finished file is byte-identical to an uninterrupted run's, for any
// model. (For models built by bertserve, embeddings are bit-identical
// under any chunking anyway: tested in encoder.)
//
// Shards. With a directory output, shard I of N is written as
// part-0000I-of-0000N.npy with a manifest (package shards) once complete;
// a shard found complete and matching is not redone, and a directory
// holding another run's shards is refused.
//
// Streams. Lines of stdin are read ahead by a goroutine into a bounded
// channel; a chunk is cut at ChunkRows rows, 16 MiB of text, or when no
// line has come for IdleFlush, so a slow producer sees its rows promptly.
// A line that cannot be read (not JSON, no text key, longer than
// MaxLineBytes) stops the run after the rows before it are written, or
// with OnErrorSkip is reported on the log with its line number and skipped.
package stream
