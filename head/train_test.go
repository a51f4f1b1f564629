package head

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/bertserve/bertserve/head/curve"
)

func quick(head string) TrainConfig {
	c := Default()
	c.Head = head
	c.Epochs = 8
	c.Hidden = []int{32}
	c.BatchSize = 32
	c.LR = 3e-3
	return c
}

func TestTrainHeads(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		cfg    func() TrainConfig
		opt    string
		minAcc float64
	}{
		{"softmax lbfgs", func() TrainConfig { return quick(HeadSoftmax) }, OptLBFGS, 0.95},
		{"softmax adamw", func() TrainConfig { c := quick(HeadSoftmax); c.Optimizer = OptAdamW; c.LR = 0.05; return c }, OptAdamW, 0.95},
		{"mlp gelu", func() TrainConfig { return quick(HeadMLP) }, OptAdamW, 0.95},
		{"mlp relu two layers cosine", func() TrainConfig {
			c := quick(HeadMLP)
			c.Hidden, c.Activation, c.Schedule = []int{32, 16}, "relu", ScheduleCosine
			return c
		}, OptAdamW, 0.95},
		{"mlp smoothing balanced weights", func() TrainConfig {
			c := quick(HeadMLP)
			c.LabelSmoothing, c.ClassWeight = 0.1, "balanced"
			return c
		}, OptAdamW, 0.95},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			train, val := splitHalf(blobs(800, 16, 3, 4, 1))
			var seen []EpochStats
			m, rep, err := Train(context.Background(), train, val, tc.cfg(), func(s EpochStats) { seen = append(seen, s) })
			if err != nil {
				t.Fatal(err)
			}
			if rep.Result.Optimizer != tc.opt {
				t.Errorf("optimizer %s, want %s", rep.Result.Optimizer, tc.opt)
			}
			if rep.Val.Accuracy < tc.minAcc {
				t.Errorf("validation accuracy %.3f < %.2f", rep.Val.Accuracy, tc.minAcc)
			}
			if len(seen) == 0 || len(seen) != len(rep.Curves.Points) || !seen[0].HasVal {
				t.Errorf("progress called %d times for %d curve points", len(seen), len(rep.Curves.Points))
			}
			if err := rep.Curves.Validate(); err != nil {
				t.Error(err)
			}
			if rep.Diagnosis.Summary == "" || m.Meta().Diagnosis == nil {
				t.Error("no diagnosis")
			}
		})
	}
}

// TestDeterministic trains twice with the same seed (bit-identical
// weights) and once with another (different weights).
func TestDeterministic(t *testing.T) {
	t.Parallel()
	for _, head := range []string{HeadSoftmax, HeadMLP} {
		t.Run(head, func(t *testing.T) {
			t.Parallel()
			train, val := splitHalf(blobs(3000, 24, 3, 2, 3)) // > one L-BFGS block
			c := quick(head)
			c.Epochs = 3
			weights := func(seed uint64) []float32 {
				c.Seed = seed
				m, _, err := Train(context.Background(), train, val, c, nil)
				if err != nil {
					t.Fatal(err)
				}
				var w []float32
				for _, p := range m.net.seq.Params() {
					w = append(w, p.W...)
				}
				return w
			}
			a, b := weights(7), weights(7)
			for i := range a {
				if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
					t.Fatalf("weight %d differs between identical runs: %v vs %v", i, a[i], b[i])
				}
			}
			if head == HeadMLP {
				other := weights(8)
				same := true
				for i := range a {
					same = same && a[i] == other[i]
				}
				if same {
					t.Fatal("a different seed gave the same weights")
				}
			}
		})
	}
}

func TestEarlyStoppingRestoresBest(t *testing.T) {
	t.Parallel()
	// Few rows, many features, a big head and no regularisation: the
	// validation loss turns up quickly.
	d := blobs(160, 64, 2, 1.5, 4)
	for i := range d.Y { // label noise
		if i%5 == 0 {
			d.Y[i] = 1 - d.Y[i]
		}
	}
	train, val := splitHalf(d)
	c := quick(HeadMLP)
	c.Hidden = []int{128}
	c.Epochs, c.LR, c.Dropout, c.WeightDecay, c.Warmup, c.Schedule = 60, 0.002, 0, 0, 0, ScheduleConstant
	c.Patience = 3
	var last EpochStats
	m, rep, err := Train(context.Background(), train, val, c, func(s EpochStats) { last = s })
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Result.StoppedEarly || rep.Result.Epochs >= 60 {
		t.Fatalf("did not stop early: %+v", rep.Result)
	}
	if rep.Result.Epochs-rep.Result.BestEpoch != c.Patience {
		t.Errorf("stopped at %d with best %d, patience %d", rep.Result.Epochs, rep.Result.BestEpoch, c.Patience)
	}
	best := rep.Curves.Points[rep.Result.BestEpoch-1]
	got, err := Evaluate(m, val)
	if err != nil {
		t.Fatal(err)
	}
	// The kept weights are the best epoch's: their validation metric is
	// that epoch's, not the last one's.
	if math.Abs(got.Accuracy-best.ValMetric) > 1e-12 {
		t.Errorf("restored accuracy %.4f, best epoch %.4f, last epoch %.4f", got.Accuracy, best.ValMetric, last.ValMetric)
	}
}

// TestDiagnosesOverFitting memorises noisy labels with a big head and no
// regularisation or early stopping, and expects the diagnosis to say so.
func TestDiagnosesOverFitting(t *testing.T) {
	t.Parallel()
	d := blobs(160, 64, 2, 1.5, 4)
	for i := range d.Y {
		if i%5 == 0 {
			d.Y[i] = 1 - d.Y[i]
		}
	}
	train, val := splitHalf(d)
	c := quick(HeadMLP)
	c.Hidden = []int{256}
	c.Epochs, c.LR, c.Dropout, c.WeightDecay, c.Warmup, c.Schedule, c.Patience = 40, 0.01, 0, 0, 0, ScheduleConstant, 0
	_, rep, err := Train(context.Background(), train, val, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	dg := rep.Diagnosis
	if dg.Verdict != curve.OverFitting || dg.FromEpoch < 2 || dg.FromEpoch != rep.Result.BestEpoch+1 {
		t.Fatalf("diagnosis %+v (best epoch %d), want over-fitting from the epoch after the best", dg, rep.Result.BestEpoch)
	}
	if !strings.Contains(dg.String(), "were kept") {
		t.Errorf("advice does not say the best weights were kept: %s", dg)
	}
}

func TestMonitorMetric(t *testing.T) {
	t.Parallel()
	train, val := splitHalf(blobs(300, 8, 3, 3, 5))
	c := quick(HeadMLP)
	c.Monitor = "macro_f1"
	_, rep, err := Train(context.Background(), train, val, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Curves.Metric != "macro_f1" || rep.Curves.Points[0].TrainMetric <= 0 {
		t.Fatalf("curve metric %q, first point %+v", rep.Curves.Metric, rep.Curves.Points[0])
	}
}

func TestTrainWithoutValidation(t *testing.T) {
	t.Parallel()
	d := blobs(200, 8, 2, 3, 6)
	for _, head := range []string{HeadSoftmax, HeadMLP} {
		m, rep, err := Train(context.Background(), d, nil, quick(head), nil)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Val != nil || rep.Curves.Validation || m == nil {
			t.Fatalf("%s: unexpected validation results", head)
		}
	}
}

func TestTrainCancel(t *testing.T) {
	t.Parallel()
	train, val := splitHalf(blobs(400, 8, 2, 2, 7))
	for _, head := range []string{HeadSoftmax, HeadMLP} {
		ctx, cancel := context.WithCancel(context.Background())
		_, _, err := Train(ctx, train, val, quick(head), func(EpochStats) { cancel() })
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("%s: got %v, want context.Canceled", head, err)
		}
	}
}

func TestTrainRejectsBadData(t *testing.T) {
	t.Parallel()
	good := blobs(40, 4, 2, 3, 8)
	oneClass := good.Subset([]int{0, 2, 4, 6})
	nan := good.Subset([]int{0, 1, 2, 3})
	nan.X = [][]float32{{1, 2, 3, 4}, {1, 2, 3, 4}, {1, float32(math.NaN()), 3, 4}, {1, 1, 1, 1}}
	unseen := good.Subset([]int{0, 1})
	unseen.Labels = []string{"c0", "c1", "c2"}
	unseen.Y = []int{2, 0}
	trainMissingC2 := good.Subset([]int{0, 1, 2, 3})
	trainMissingC2.Labels = unseen.Labels
	wide := blobs(10, 5, 2, 3, 9)
	tests := []struct {
		name       string
		train, val *Dataset
		cfg        func(*TrainConfig)
		want       string
	}{
		{"one class", oneClass, nil, nil, "needs at least two"},
		{"nan row", nan, nil, nil, "row 3: embedding value 2 is NaN"},
		{"empty", &Dataset{Labels: []string{"a", "b"}}, nil, nil, "empty"},
		{"val label unseen in training", trainMissingC2, unseen, nil, `label "c2", which does not occur in the training data`},
		{"val width", good, wide, nil, "5 values per row"},
		{"val labels differ", good, &Dataset{X: good.X[:2], Y: []int{0, 1}, Labels: []string{"x", "y"}}, nil, "differ from training labels"},
		{"bad config", good, nil, func(c *TrainConfig) { c.LR = -1 }, "lr -1 must be > 0"},
		{"class weight unknown label", good, nil, func(c *TrainConfig) { c.ClassWeight = "zz=2" }, `"zz", which is not a training label`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := quick(HeadMLP)
			if tc.cfg != nil {
				tc.cfg(&c)
			}
			_, _, err := Train(context.Background(), tc.train, tc.val, c, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestLRSchedule(t *testing.T) {
	t.Parallel()
	tests := []struct {
		schedule string
		step     int
		want     float64
	}{
		{ScheduleLinear, 0, 0.25}, // warm-up: (0+1)/4
		{ScheduleLinear, 3, 1},    // end of warm-up
		{ScheduleLinear, 4, 1},    // decay starts at the peak
		{ScheduleLinear, 8, 0.5},  // half-way through 8 decay steps
		{ScheduleCosine, 8, 0.5},  // cos(π/2)
		{ScheduleCosine, 6, 0.5 * (1 + math.Cos(math.Pi/4))},
		{ScheduleConstant, 10, 1},
	}
	for _, tc := range tests {
		if got := lrAt(tc.schedule, 1, tc.step, 12, 4); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s step %d: %v, want %v", tc.schedule, tc.step, got, tc.want)
		}
	}
}
