package encoder_test

import (
	"fmt"
	"os"

	"github.com/bertserve/bertserve/encoder"
)

// A hidden-state cache keeps each text's token states below the split;
// a view reads them back in the order training asks for.
func ExampleHiddenCache() {
	dir, _ := os.MkdirTemp("", "hidden-example-")
	defer os.RemoveAll(dir)
	info := encoder.Info{Digest: "0123456789abcdef0123", MaxLength: 128}
	c, err := encoder.OpenHiddenCache(dir, info, 4, 3, encoder.HiddenFloat16)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	c.Put("good film", []float32{0.5, -1, 2, 0.25, 0, 1}, 2) // 2 tokens × 3
	c.Put("bad", []float32{1, 1, 1}, 1)
	v, err := c.View([]string{"bad", "good film"})
	if err != nil {
		panic(err)
	}
	defer v.Close()
	for i := 0; i < v.Len(); i++ {
		row, T := v.Row(i, nil)
		fmt.Println(T, row)
	}
	fmt.Println(encoder.HiddenCacheName(info, 4, encoder.HiddenFloat16), c.RecordSize(2), "bytes for 2 tokens")
	// Output:
	// 1 [1 1 1]
	// 2 [0.5 -1 2 0.25 0 1]
	// 0123456789abcdef-k4-len128-float16.hidden 48 bytes for 2 tokens
}
