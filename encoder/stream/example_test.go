package stream_test

import (
	"context"
	"fmt"
	"os"

	"github.com/bertserve/bertserve/encoder"
	"github.com/bertserve/bertserve/encoder/stream"
)

// Embed shard 3 of 8 of a corpus into a shard directory, resuming a
// partial output a killed run left, as `bertserve embed --shard 3/8
// --output emb/` does. (Not run: it needs a model and ONNX Runtime.)
func ExampleRun() {
	enc, err := encoder.Open(encoder.Options{ModelDir: "models/default"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer enc.Close()
	sum, err := stream.Run(context.Background(), stream.Job{
		Encoder: enc, ModelDir: "models/default",
		Input: "corpus.tsv", Output: "emb/", Shard: 3, Shards: 8,
		Log: os.Stderr,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d rows (%d kept from a partial output) in %s\n", sum.Rows, sum.ResumedFrom, sum.Output)
}
