package models

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		json string
		want Config
		err  string
	}{
		{
			name: "bert defaults",
			json: `{"model_type":"bert","hidden_size":8,"num_hidden_layers":1,"num_attention_heads":2,"intermediate_size":16,"vocab_size":100,"max_position_embeddings":64}`,
			want: Config{ModelType: "bert", HiddenSize: 8, NumLayers: 1, NumHeads: 2, IntermediateSize: 16, VocabSize: 100, MaxPositions: 64,
				TypeVocabSize: 2, LayerNormEps: 1e-12, HiddenAct: "gelu", PadTokenID: 0, InitializerRange: 0.02},
		},
		{
			name: "xlm-roberta pads with 1",
			json: `{"model_type":"xlm-roberta","hidden_size":8,"num_hidden_layers":1,"num_attention_heads":2,"intermediate_size":16,"vocab_size":100,"max_position_embeddings":66,"type_vocab_size":1,"layer_norm_eps":1e-5}`,
			want: Config{ModelType: "xlm-roberta", HiddenSize: 8, NumLayers: 1, NumHeads: 2, IntermediateSize: 16, VocabSize: 100, MaxPositions: 66,
				TypeVocabSize: 1, LayerNormEps: 1e-5, HiddenAct: "gelu", PadTokenID: 1, InitializerRange: 0.02},
		},
		{
			name: "distilbert names",
			json: `{"model_type":"distilbert","dim":8,"n_layers":3,"n_heads":2,"hidden_dim":32,"vocab_size":100,"activation":"relu"}`,
			want: Config{ModelType: "distilbert", HiddenSize: 8, NumLayers: 3, NumHeads: 2, IntermediateSize: 32, VocabSize: 100, MaxPositions: 512,
				LayerNormEps: 1e-12, HiddenAct: "relu", InitializerRange: 0.02},
		},
		{name: "not json", json: `{`, err: "not valid JSON"},
		{name: "no model_type", json: `{}`, err: `no "model_type"`},
		{name: "unknown type", json: `{"model_type":"gpt2","architectures":["GPT2LMHeadModel"]}`, err: `model_type "gpt2" (architectures [GPT2LMHeadModel]) is not supported`},
		{name: "missing keys", json: `{"model_type":"bert","hidden_size":8}`, err: "missing num_hidden_layers, num_attention_heads, intermediate_size, max_position_embeddings, vocab_size"},
		{name: "distilbert missing", json: `{"model_type":"distilbert","vocab_size":3}`, err: "missing dim, n_layers, n_heads, hidden_dim"},
		{name: "heads do not divide", json: `{"model_type":"bert","hidden_size":10,"num_hidden_layers":1,"num_attention_heads":4,"intermediate_size":16,"vocab_size":100,"max_position_embeddings":64}`, err: "not a multiple of the head count"},
		{name: "activation", json: `{"model_type":"bert","hidden_size":8,"num_hidden_layers":1,"num_attention_heads":2,"intermediate_size":16,"vocab_size":100,"max_position_embeddings":64,"hidden_act":"silu"}`, err: `activation "silu" is not supported`},
		{name: "relative positions", json: `{"model_type":"bert","position_embedding_type":"relative_key"}`, err: "only absolute position embeddings"},
		{name: "pad outside vocab", json: `{"model_type":"bert","hidden_size":8,"num_hidden_layers":1,"num_attention_heads":2,"intermediate_size":16,"vocab_size":100,"max_position_embeddings":64,"pad_token_id":100}`, err: "pad_token_id 100 outside"},
		{name: "zero layers", json: `{"model_type":"bert","hidden_size":8,"num_hidden_layers":0,"num_attention_heads":2,"intermediate_size":16,"vocab_size":100,"max_position_embeddings":64}`, err: "layer count is 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseConfig([]byte(tc.json))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.Architectures = nil
			if !reflect.DeepEqual(*got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", *got, tc.want)
			}
		})
	}
}

func TestConfigDerived(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file          string
		family        Family
		tokenTypes    bool
		maxLen, heads int
	}{
		{"tiny-bert.json", FamilyBERT, true, 512, 8},
		{"tiny-roberta.json", FamilyRoBERTa, false, 512, 8},
		{"tiny-distilbert.json", FamilyDistilBERT, false, 512, 8},
		{"minilm-l6-h384.json", FamilyBERT, true, 512, 32},
	} {
		cfg, err := LoadConfig(filepath.Join("testdata", "configs", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Family() != tc.family || cfg.HasTokenTypes() != tc.tokenTypes || cfg.MaxLength() != tc.maxLen || cfg.HeadDim() != tc.heads {
			t.Errorf("%s: family %s types %v maxlen %d headdim %d", tc.file, cfg.Family(), cfg.HasTokenTypes(), cfg.MaxLength(), cfg.HeadDim())
		}
	}
}

func TestMarshalHFRoundTrips(t *testing.T) {
	t.Parallel()
	for _, f := range []string{"tiny-bert.json", "tiny-roberta.json", "tiny-distilbert.json", "tiny-bert-gelu-new.json"} {
		cfg, err := LoadConfig(filepath.Join("testdata", "configs", f))
		if err != nil {
			t.Fatal(err)
		}
		data, err := cfg.MarshalHF()
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseConfig(data)
		if err != nil {
			t.Fatalf("%s: %v\n%s", f, err, data)
		}
		if back.ModelType != cfg.ModelType || back.HiddenSize != cfg.HiddenSize || back.NumLayers != cfg.NumLayers ||
			back.IntermediateSize != cfg.IntermediateSize || back.HiddenAct != cfg.HiddenAct || back.PadTokenID != cfg.PadTokenID ||
			back.TypeVocabSize != cfg.TypeVocabSize || back.LayerNormEps != cfg.LayerNormEps || back.MaxPositions != cfg.MaxPositions {
			t.Errorf("%s: %+v became %+v", f, *cfg, *back)
		}
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	t.Parallel()
	_, err := LoadConfig(filepath.Join(t.TempDir(), "nope.json"))
	if err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Fatalf("err = %v", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, name := range []string{"tiny-bert.json", "tiny-roberta.json", "tiny-distilbert.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", "configs", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"model_type":"bert","hidden_size":-1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data)
		if err != nil {
			return
		}
		// Whatever parses must be buildable in principle.
		if err := cfg.Validate(); err != nil {
			t.Fatalf("ParseConfig accepted an invalid config: %v", err)
		}
		if cfg.HeadDim()*cfg.NumHeads != cfg.HiddenSize || cfg.MaxLength() <= 0 {
			t.Fatalf("inconsistent config %+v", cfg)
		}
	})
}
