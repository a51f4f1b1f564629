package serve

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

func oipSchema(t *testing.T, def string) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(oipSchemas))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("oip.json", doc); err != nil {
		t.Fatal(err)
	}
	sc, err := c.Compile("oip.json#/$defs/" + def)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func conformsOIP(t *testing.T, def string, body []byte, what string) {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("%s: %v: %s", what, err, body)
	}
	if err := oipSchema(t, def).Validate(v); err != nil {
		t.Errorf("%s does not conform to the protocol's %s: %v\n%s", what, def, err, body)
	}
}

// TestOpenInferenceProtocol: health, metadata, readiness and inference of
// the KServe v2 routes, in JSON and in the binary tensor extension, and
// errors in the protocol's {"error"} shape.
func TestOpenInferenceProtocol(t *testing.T) {
	t.Parallel()
	s, _ := testServer(t, nil)
	s.Heads().Put("sentiment", newFakeHead("negative", "positive"))
	h := s.Handler()
	for path, def := range map[string]string{"/v2/health/live": "live", "/v2/health/ready": "ready", "/v2": "server_metadata",
		"/v2/models/sentiment": "model_metadata", "/v2/models/sentiment/versions/1": "model_metadata",
		"/v2/models/sentiment/ready": "ready", "/v2/models/sentiment/versions/1/ready": "ready"} {
		rec := call(t, h, "GET", path, nil)
		if rec.Code != 200 {
			t.Errorf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
		conformsOIP(t, def, rec.Body.Bytes(), "GET "+path)
	}
	texts := []string{"a fine film", "dull"}
	want := func(i int) string { return []string{"negative", "positive"}[labelIndex(texts[i], 2)] }

	// JSON; no Content-Type (tritonclient sends none).
	body := `{"id": "r1", "inputs": [{"name": "text", "shape": [2], "datatype": "BYTES", "data": ["a fine film", "dull"]}]}`
	rec := call(t, h, "POST", "/v2/models/sentiment/infer", body, "Content-Type", "")
	if rec.Code != 200 {
		t.Fatalf("infer: %d %s", rec.Code, rec.Body)
	}
	conformsOIP(t, "infer", rec.Body.Bytes(), "infer")
	var resp struct {
		ModelName string `json:"model_name"`
		ID        string
		Outputs   []struct {
			Name  string
			Shape []int
			Data  []any
		}
	}
	json.Unmarshal(rec.Body.Bytes(), &resp)
	if resp.ModelName != "sentiment" || resp.ID != "r1" || len(resp.Outputs) != 3 {
		t.Fatalf("infer answer %s", rec.Body)
	}
	if l := resp.Outputs[0]; l.Name != "label" || l.Data[0] != want(0) || l.Data[1] != want(1) {
		t.Errorf("labels %v", l)
	}
	if sc := resp.Outputs[1]; sc.Name != "score" || math.Abs(sc.Data[0].(float64)-0.7) > 1e-6 {
		t.Errorf("scores %v", sc)
	}
	if p := resp.Outputs[2]; p.Name != "probabilities" || len(p.Data) != 4 || p.Shape[1] != 2 {
		t.Errorf("probabilities %v", p)
	}

	// Binary tensors both ways, [N, 1] input, one output asked for.
	var blob bytes.Buffer
	for _, s := range texts {
		binary.Write(&blob, binary.LittleEndian, uint32(len(s)))
		blob.WriteString(s)
	}
	header := `{"inputs": [{"name": "text", "shape": [2, 1], "datatype": "BYTES", "parameters": {"binary_data_size": ` +
		strconv.Itoa(blob.Len()) + `}}], "outputs": [{"name": "label", "parameters": {"binary_data": true}}]}`
	req := httptest.NewRequest("POST", "/v2/models/sentiment/infer", bytes.NewReader(append([]byte(header), blob.Bytes()...)))
	req.Header.Set("Inference-Header-Content-Length", strconv.Itoa(len(header)))
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	n, err := strconv.Atoi(rec.Header().Get("Inference-Header-Content-Length"))
	if rec.Code != 200 || err != nil {
		t.Fatalf("binary infer: %d %s", rec.Code, rec.Body)
	}
	conformsOIP(t, "infer", rec.Body.Bytes()[:n], "binary infer header")
	got, err := decodeBytesTensor(rec.Body.Bytes()[n:])
	if err != nil || len(got) != 2 || got[0] != want(0) || got[1] != want(1) {
		t.Errorf("binary labels %q (%v)", got, err)
	}

	for _, tc := range []struct {
		path, body string
		code       int
	}{
		{"/v2/models/nope/infer", body, 404},
		{"/v2/models/sentiment/versions/2/infer", body, 404},
		{"/v2/models/sentiment/infer", `{"inputs": []}`, 400},
		{"/v2/models/sentiment/infer", `{"inputs": [{"name": "text", "shape": [2], "datatype": "FP32", "data": [1, 2]}]}`, 400},
		{"/v2/models/sentiment/infer", `{"inputs": [{"name": "text", "shape": [3], "datatype": "BYTES", "data": ["a", "b"]}]}`, 400},
		{"/v2/models/sentiment/infer", `{"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["a"]}], "outputs": [{"name": "logits"}]}`, 400},
		{"/v2/models/sentiment/infer", `{"inputs": [`, 400},
	} {
		rec := call(t, h, "POST", tc.path, tc.body)
		if rec.Code != tc.code {
			t.Errorf("%s %s: %d, want %d: %s", tc.path, tc.body, rec.Code, tc.code, rec.Body)
		}
		conformsOIP(t, "error", rec.Body.Bytes(), tc.path+" error")
	}
	if rec := call(t, h, "GET", "/v2/models/nope/ready", nil); rec.Code != http.StatusNotFound {
		t.Errorf("unknown model ready: %d", rec.Code)
	}
}

// TestOIPNotReady: while the model loads, ready is false and infer 503.
func TestOIPNotReady(t *testing.T) {
	t.Parallel()
	s, err := New(Config{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Heads().Put("sentiment", newFakeHead("a", "b"))
	if rec := call(t, s.Handler(), "GET", "/v2/health/ready", nil); rec.Code != 503 || !strings.Contains(rec.Body.String(), "false") {
		t.Errorf("ready while loading: %d %s", rec.Code, rec.Body)
	}
	if rec := call(t, s.Handler(), "GET", "/v2/health/live", nil); rec.Code != 200 {
		t.Errorf("live while loading: %d", rec.Code)
	}
	rec := call(t, s.Handler(), "POST", "/v2/models/sentiment/infer", `{"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["a"]}]}`)
	if rec.Code != 503 {
		t.Errorf("infer while loading: %d", rec.Code)
	}
	conformsOIP(t, "error", rec.Body.Bytes(), "infer while loading")
}
