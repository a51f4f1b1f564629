package orttest

import (
	"errors"
	"fmt"
	"math"
	"os"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/bertserve/bertserve/encoder"
)

// Require loads ONNX Runtime or skips (fails under BERTSERVE_REQUIRE_ORT=1).
func Require(t testing.TB) {
	t.Helper()
	err := encoder.InitRuntime("")
	if err == nil {
		return
	}
	if os.Getenv("BERTSERVE_REQUIRE_ORT") == "1" {
		t.Fatalf("BERTSERVE_REQUIRE_ORT=1 but ONNX Runtime is unavailable: %v", err)
	}
	if errors.Is(err, encoder.ErrNoRuntime) {
		t.Skipf("ONNX Runtime not installed; run make setup (%v)", err)
	}
	t.Fatalf("loading ONNX Runtime: %v", err)
}

// Input is one named model input; exactly one of Int64 or Float32 is set.
type Input struct {
	Name    string
	Shape   []int64
	Int64   []int64
	Float32 []float32
}

// Output is one float32 model output.
type Output struct {
	Shape []int64
	Data  []float32
}

// Options tune the session Run creates.
type Options struct {
	// OptimizedPath, when set, makes ONNX Runtime save the graph after its
	// optimizations there, so a test can check which fusions applied.
	OptimizedPath string
	// DisableOptimizations runs the graph exactly as written.
	DisableOptimizations bool
	// Threads is ONNX Runtime's intra-op thread count (default 1).
	Threads int
}

// Run executes model once on inputs and returns the named float32 outputs.
func Run(t testing.TB, model []byte, inputs []Input, outputs []string, opt *Options) map[string]Output {
	t.Helper()
	res, err := RunErr(model, inputs, outputs, opt)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// RunErr is Run returning errors instead of failing the test. ONNX Runtime
// must already be loaded (Require).
func RunErr(model []byte, inputs []Input, outputs []string, opt *Options) (map[string]Output, error) {
	names := make([]string, len(inputs))
	for i, in := range inputs {
		names[i] = in.Name
	}
	s, err := NewSession(model, names, outputs, opt)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return s.Run(inputs)
}

// Session is a loaded model that can be run many times.
type Session struct {
	sess    *ort.DynamicAdvancedSession
	inputs  []string
	outputs []string
}

// NewSession loads model with single-threaded session options.
func NewSession(model []byte, inputs, outputs []string, opt *Options) (*Session, error) {
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	defer so.Destroy()
	threads := 1
	if opt != nil && opt.Threads > 0 {
		threads = opt.Threads
	}
	if err := so.SetIntraOpNumThreads(threads); err != nil {
		return nil, err
	}
	if err := so.SetInterOpNumThreads(1); err != nil {
		return nil, err
	}
	if opt != nil && opt.OptimizedPath != "" {
		if err := so.SetOptimizedModelFilePath(opt.OptimizedPath); err != nil {
			return nil, err
		}
	}
	if opt != nil && opt.DisableOptimizations {
		if err := so.SetGraphOptimizationLevel(ort.GraphOptimizationLevelDisableAll); err != nil {
			return nil, err
		}
	}
	sess, err := ort.NewDynamicAdvancedSessionWithONNXData(model, inputs, outputs, so)
	if err != nil {
		return nil, fmt.Errorf("creating session: %w", err)
	}
	return &Session{sess: sess, inputs: inputs, outputs: outputs}, nil
}

// Close releases the session.
func (s *Session) Close() error { return s.sess.Destroy() }

// Run feeds inputs (in the order the session was created with) and
// returns the float32 outputs by name.
func (s *Session) Run(inputs []Input) (map[string]Output, error) {
	if len(inputs) != len(s.inputs) {
		return nil, fmt.Errorf("%d inputs, session takes %d", len(inputs), len(s.inputs))
	}
	values := make([]ort.Value, len(inputs))
	defer func() {
		for _, v := range values {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	for i, in := range inputs {
		if in.Name != s.inputs[i] {
			return nil, fmt.Errorf("input %d is %s, session expects %s", i, in.Name, s.inputs[i])
		}
		var (
			v   ort.Value
			err error
		)
		switch {
		case in.Int64 != nil:
			v, err = ort.NewTensor(ort.NewShape(in.Shape...), in.Int64)
		default:
			v, err = ort.NewTensor(ort.NewShape(in.Shape...), in.Float32)
		}
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", in.Name, err)
		}
		values[i] = v
	}
	outs := make([]ort.Value, len(s.outputs))
	if err := s.sess.Run(values, outs); err != nil {
		return nil, err
	}
	defer func() {
		for _, v := range outs {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	res := map[string]Output{}
	for i, v := range outs {
		ft, ok := v.(*ort.Tensor[float32])
		if !ok {
			return nil, fmt.Errorf("output %s is %T, want a float32 tensor", s.outputs[i], v)
		}
		res[s.outputs[i]] = Output{
			Shape: append([]int64(nil), ft.GetShape()...),
			Data:  append([]float32(nil), ft.GetData()...),
		}
	}
	return res, nil
}

// Cosine is the cosine similarity of two embeddings, accumulated in
// float64: the bar the int8 tests hold quantized graphs to.
func Cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}
