package head

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeConfigZeroMeansZero(t *testing.T) {
	t.Parallel()
	def := Default()
	if def.Patience == 0 || def.WeightDecay == 0 || def.Dropout == 0 || def.Seed == 0 || def.Clip == 0 || def.Warmup == 0 {
		t.Fatal("the test needs non-zero defaults")
	}
	body := `{"head": "mlp", "patience": 0, "weight_decay": 0, "dropout": 0, "seed": 0, "clip": 0, "warmup": 0, "label_smoothing": 0, "min_delta": 0, "test_fraction": 0, "errors": 0}`
	cfg, err := DecodeConfig([]byte(body), def)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Patience != 0 || cfg.WeightDecay != 0 || cfg.Dropout != 0 || cfg.Seed != 0 || cfg.Clip != 0 || cfg.Warmup != 0 || cfg.TestFraction != 0 || cfg.Errors != 0 {
		t.Errorf("explicit zeros became defaults: %+v", cfg)
	}
	if cfg.Epochs != def.Epochs || cfg.LR != def.LR || cfg.ValFraction != def.ValFraction {
		t.Errorf("absent keys lost their defaults: %+v", cfg)
	}
	// The same through the query-string path.
	q, err := ConfigFromValues(map[string]string{"head": "mlp", "patience": "0", "weight_decay": "0", "dropout": "0", "seed": "0",
		"clip": "0", "warmup": "0", "label_smoothing": "0", "min_delta": "0", "test_fraction": "0", "errors": "0"}, def)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(q, cfg) {
		t.Errorf("query and JSON differ:\n%+v\n%+v", q, cfg)
	}
	// The caller's defaults are not written through.
	if !reflect.DeepEqual(def, Default()) {
		t.Error("decoding changed the base config")
	}
}

func TestDecodeConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ body, want string }{
		{`{"epoch": 5}`, `unknown training option "epoch"; valid options: `},
		{`{"epoch": 5}`, "epochs"},
		{`{"adapter": {"kind": "lora", "rank": 4}}`, `the embedding-level "adapter" was removed`},
		{`{"adapter": "lora"}`, `"tune": "lora"`},
		{`{"label_names": {"0": "a"}, "lora_rank": 0, "tune": "lora"}`, `lora_rank`},
		{`{"epochs": "5"}`, `training option "epochs" must be a whole number, got a string`},
		{`{"seed": -1}`, `training option "seed" must be a whole number >= 0`},
		{`{"normalize": 1}`, `"normalize" must be true or false`},
		{`{"lr": null}`, `"lr" must be a number, got null`},
		{`{"epochs": 0}`, "epochs 0 must be in [1, 10000]"},
		{`{"patience": -1}`, "patience -1 must be >= 0"},
		{`{"val_fraction": 0.6, "test_fraction": 0.5}`, "leave a training share"},
		{`[1]`, "must be a JSON object"},
		{`{"` + strings.Repeat("k", 5000) + `": 1}`, "(5000 bytes)"},
	} {
		_, err := DecodeConfig([]byte(tc.body), Default())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%.60s: error %v, want it to say %q", tc.body, err, tc.want)
		}
		if err != nil && len(err.Error()) > 2000 {
			t.Errorf("%.60s: a %d-byte error", tc.body, len(err.Error()))
		}
	}
	for _, tc := range []struct {
		values map[string]string
		want   string
	}{
		{map[string]string{"epoch": "5"}, `unknown training option "epoch"`},
		{map[string]string{"epochs": "five"}, `epochs="five": want a whole number`},
		{map[string]string{"adapter": "lora", "adapter.rank": "4"}, `--tune lora`},
		{map[string]string{"normalize": "yes please"}, "want true or false"},
	} {
		_, err := ConfigFromValues(tc.values, Default())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want it to say %q", tc.values, err, tc.want)
		}
	}
}

func TestDecodeConfigShortForms(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		body  string
		check func(TrainConfig) bool
	}{
		{`{"head": "mlp", "hidden": 64}`, func(c TrainConfig) bool { return reflect.DeepEqual(c.Hidden, []int{64}) }},
		{`{"head": "mlp", "hidden": "512,128"}`, func(c TrainConfig) bool { return reflect.DeepEqual(c.Hidden, []int{512, 128}) }},
		{`{"head": "mlp", "hidden": [32, 16]}`, func(c TrainConfig) bool { return reflect.DeepEqual(c.Hidden, []int{32, 16}) }},
		{`{"tune": "lora", "lora_rank": 4, "lora_targets": "query,value"}`, func(c TrainConfig) bool { return c.LoRARank == 4 && len(c.LoRATargets) == 2 }},
		{`{"label_names": "0=neg,1=pos"}`, func(c TrainConfig) bool { return c.LabelNames["1"] == "pos" && len(c.LabelNames) == 2 }},
		{`{"label_names": {"0": "neg"}}`, func(c TrainConfig) bool { return c.LabelNames["0"] == "neg" }},
		{`{}`, func(c TrainConfig) bool { return reflect.DeepEqual(c, Default()) }},
	} {
		c, err := DecodeConfig([]byte(tc.body), Default())
		if err != nil || !tc.check(c) {
			t.Errorf("%s: %+v, %v", tc.body, c, err)
		}
	}
	q, err := ConfigFromValues(map[string]string{"head": "mlp", "hidden": "512,128", "lora_targets": "query,value", "optimizer": "adamw"}, Default())
	if err != nil || !reflect.DeepEqual(q.Hidden, []int{512, 128}) || !reflect.DeepEqual(q.LoRATargets, []string{"query", "value"}) {
		t.Errorf("query short forms: %+v %v", q, err)
	}
}

// Every option has a JSON key, so the decoder and head.json name them alike.
func TestConfigKeysCoverEveryField(t *testing.T) {
	t.Parallel()
	tt := reflect.TypeOf(TrainConfig{})
	if n := len(ConfigKeys()); n != tt.NumField() {
		t.Errorf("%d keys for %d fields", n, tt.NumField())
	}
}

func ExampleDecodeConfig() {
	cfg, err := DecodeConfig([]byte(`{"head": "mlp", "patience": 0, "epochs": 30}`), Default())
	fmt.Println(cfg.Head, cfg.Epochs, cfg.Patience, err)
	_, err = DecodeConfig([]byte(`{"epoch": 30}`), Default())
	fmt.Println(err != nil && strings.HasPrefix(err.Error(), `unknown training option "epoch"`))
	// Output:
	// mlp 30 0 <nil>
	// true
}

func FuzzDecodeConfig(f *testing.F) {
	for _, s := range []string{`{}`, `{"head":"mlp","hidden":"3,4"}`, `{"adapter":"lora"}`, `{"epochs":1e3}`, `{"label_names":"a=b"}`, `null`, `{"adapter":{"kind":1}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := DecodeConfig(data, Default())
		if err == nil {
			if verr := cfg.Validate(); verr != nil {
				t.Fatalf("decoded an invalid config: %v", verr)
			}
		}
	})
}
