package serve

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bertserve/bertserve/head"
)

const adminTok = "admin-token-1"

func trainServer(t *testing.T, trainer *fakeTrainer, store *memStore, mod func(*Config)) *Server {
	t.Helper()
	s, _ := testServer(t, func(c *Config) {
		c.Store = store
		c.Train = trainer.train
		c.AdminToken = adminTok
		if mod != nil {
			mod(c)
		}
	})
	return s
}

func postTrain(t *testing.T, s *Server, path, contentType, body string) *httptest.ResponseRecorder {
	t.Helper()
	return call(t, s.Handler(), "POST", path, body, "Content-Type", contentType, "Authorization", "Bearer "+adminTok)
}

func waitJob(t *testing.T, s *Server, id string, states ...JobState) JobView {
	t.Helper()
	var v JobView
	waitFor(t, func() bool {
		v = decode[JobView](t, call(t, s.Handler(), "GET", "/v1/jobs/"+id, nil))
		for _, st := range states {
			if v.State == st {
				return true
			}
		}
		return false
	})
	return v
}

const trainCSV = "text,label\ngreat movie,pos\nawful film,neg\nloved it,pos\nhated it,neg\nfine,pos\nbad,neg\nsuperb,pos\n"

func TestTrainingJobLifecycle(t *testing.T) {
	t.Parallel()
	trainer := &fakeTrainer{epochs: 3}
	store := newMemStore()
	s := trainServer(t, trainer, store, nil)

	rec := postTrain(t, s, "/v1/heads/sentiment/train?epochs=4&normalize=true&val_fraction=0.2", "text/csv", trainCSV)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	acc := decode[TrainAccepted](t, rec)
	if acc.State != JobQueued || acc.Head != "sentiment" || !strings.HasPrefix(acc.ID, "job-") || rec.Header().Get("Location") != acc.URL {
		t.Fatalf("accepted: %+v, Location %q", acc, rec.Header().Get("Location"))
	}
	v := waitJob(t, s, acc.ID, JobSucceeded, JobFailed)
	if v.State != JobSucceeded {
		t.Fatalf("job ended %s: %s", v.State, v.Error)
	}
	if v.Examples != 7 || v.Embedded != 7 || v.Epoch != 4 || v.Epochs != 4 || len(v.Curves.TrainLoss) != 4 ||
		v.Curves.Epoch[3] != 4 || math.Abs(float64(v.Curves.TrainLoss[1])-0.5) > 1e-12 || !math.IsNaN(float64(v.Curves.ValMetric[0])) {
		t.Errorf("job view: %+v", v)
	}
	if v.Metrics["accuracy"] != 0.9 || v.StartedAt.IsZero() || v.FinishedAt.Before(v.StartedAt) {
		t.Errorf("final metrics/times: %+v", v)
	}
	if strings.Join(v.Labels, ",") != "pos,neg" {
		t.Errorf("labels %v", v.Labels)
	}
	// The trainer got every example with the options over the defaults.
	got := trainer.got[0]
	if got.Len() != 7 || got.Labels[1] != "neg" || got.Texts[0] != "great movie" {
		t.Errorf("trainer data: %d rows, labels %v", got.Len(), got.Labels)
	}
	if o := trainer.cfgs[0]; o.Epochs != 4 || !o.Normalize || o.ValFraction != 0.2 || o.Patience != head.Default().Patience {
		t.Errorf("trainer options %+v", o)
	}
	// Saved, swapped in, and serving.
	if !store.has("sentiment") {
		t.Error("the trained head was not saved")
	}
	rec = call(t, s.Handler(), "POST", "/v1/classify", `{"inputs": "great", "head": "sentiment", "top_k": 2}`)
	if scores := decode[[]LabelScore](t, rec); len(scores) != 2 {
		t.Errorf("classify with the new head: %s", rec.Body)
	}
	// Listed, newest first.
	list := decode[JobList](t, call(t, s.Handler(), "GET", "/v1/jobs", nil))
	if len(list.Jobs) != 1 || list.Jobs[0].ID != acc.ID {
		t.Errorf("jobs list %+v", list)
	}
	// A finished job cannot be cancelled.
	rec = call(t, s.Handler(), "DELETE", "/v1/jobs/"+acc.ID, nil, "Authorization", "Bearer "+adminTok)
	if rec.Code != http.StatusConflict {
		t.Errorf("cancel finished job: %d", rec.Code)
	}

	// A restart reads the head back from the store.
	s2, _ := testServer(t, func(c *Config) { c.Store = store })
	if s2.Ready() {
		t.Error("ready before LoadHeads")
	}
	names, err := s2.LoadHeads()
	if err != nil || len(names) != 1 || names[0] != "sentiment" || !s2.Ready() {
		t.Fatalf("LoadHeads: %v %v", names, err)
	}
}

func TestTrainingUploadFormats(t *testing.T) {
	t.Parallel()
	var mp bytes.Buffer
	w := multipart.NewWriter(&mp)
	fw, _ := w.CreateFormFile("file", "reviews.tsv")
	fw.Write([]byte("sentence\tlabel\na \"quoted\" one\t1\nb\t0\nc\t1\nd\t0\n"))
	w.WriteField("epochs", "2")
	w.WriteField("head", "mlp")
	w.Close()

	cases := []struct {
		name, ct, path, body string
		labels               string
		epochs               int
	}{
		{"jsonl", "application/x-ndjson", "/v1/heads/h1/train", `{"text": "a", "label": 1}` + "\n" + `{"text": "b", "label": 0}` + "\n\n" + `{"text": "c", "label": 1}` + "\n" + `{"text": "d", "label": 0}`, "1,0", 0},
		{"tsv", "text/tab-separated-values", "/v1/heads/h2/train?text_col=review&label_col=stars", "stars\treview\n5\tgood\n1\tbad\n5\tnice\n1\tpoor\n", "5,1", 0},
		{"sniffed plain text", "text/plain", "/v1/heads/h3/train", "text,label\n\"a, with comma\",x\nb,y\nc,x\nd,y\n", "x,y", 0},
		{"multipart", w.FormDataContentType(), "/v1/heads/h4/train", mp.String(), "1,0", 2},
		{"json", "application/json", "/v1/heads/h5/train", `{"examples": [{"text": "a", "label": "p"}, {"text": "b", "label": "q"}, {"text": "c", "label": "p"}, {"text": "d", "label": "q"}], "epochs": 1}`, "p,q", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			trainer := &fakeTrainer{epochs: 1}
			s := trainServer(t, trainer, newMemStore(), nil)
			rec := postTrain(t, s, tc.path, tc.ct, tc.body)
			if rec.Code != http.StatusAccepted {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			v := waitJob(t, s, decode[TrainAccepted](t, rec).ID, JobSucceeded, JobFailed)
			if v.State != JobSucceeded || strings.Join(v.Labels, ",") != tc.labels || v.Examples != 4 {
				t.Errorf("job %+v", v)
			}
			if tc.epochs > 0 && v.Options.Epochs != tc.epochs {
				t.Errorf("epochs option %d, want %d", v.Options.Epochs, tc.epochs)
			}
		})
	}
}

func TestTrainingJobCancel(t *testing.T) {
	t.Parallel()
	trainer := &fakeTrainer{epochs: 50, gate: make(chan struct{})}
	store := newMemStore()
	s := trainServer(t, trainer, store, nil)
	rec := postTrain(t, s, "/v1/heads/sentiment/train", "text/csv", trainCSV)
	id := decode[TrainAccepted](t, rec).ID
	trainer.gate <- struct{}{} // one epoch
	waitJob(t, s, id, JobTraining)
	waitFor(t, func() bool { j, _ := s.jobs.get(id); return j.snapshot().Epoch == 1 })

	// Another job for the same head conflicts; deleting the head too.
	if rec := postTrain(t, s, "/v1/heads/sentiment/train", "text/csv", trainCSV); rec.Code != http.StatusConflict {
		t.Errorf("second job for the same head: %d", rec.Code)
	}
	if rec := call(t, s.Handler(), "DELETE", "/v1/heads/sentiment", nil, "Authorization", "Bearer "+adminTok); rec.Code != http.StatusConflict {
		t.Errorf("deleting a head being trained: %d", rec.Code)
	}

	rec = call(t, s.Handler(), "DELETE", "/v1/jobs/"+id, nil, "Authorization", "Bearer "+adminTok)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("cancel: %d %s", rec.Code, rec.Body)
	}
	if v := decode[JobView](t, rec); v.State != JobCanceled {
		t.Errorf("state after cancel %s", v.State)
	}
	if store.has("sentiment") || s.Heads().Len() != 0 {
		t.Error("a cancelled job saved or served its head")
	}
	if !strings.Contains(metricsText(t, s), `bertserve_training_jobs{state="canceled"} 1`) {
		t.Error("metrics do not count the cancelled job")
	}
}

func TestTrainingJobLimitsAndFailures(t *testing.T) {
	t.Parallel()
	gate := make(chan struct{})
	trainer := &fakeTrainer{epochs: 1, gate: gate}
	store := newMemStore()
	s := trainServer(t, trainer, store, func(c *Config) { c.MaxJobs = 1; c.MaxPendingJobs = 1 })
	a := decode[TrainAccepted](t, postTrain(t, s, "/v1/heads/a/train", "text/csv", trainCSV))
	b := decode[TrainAccepted](t, postTrain(t, s, "/v1/heads/b/train", "text/csv", trainCSV))
	// One runs, the other waits for the single slot.
	waitFor(t, func() bool {
		ja, _ := s.jobs.get(a.ID)
		jb, _ := s.jobs.get(b.ID)
		sa, sb := ja.state(), jb.state()
		return (sa == JobTraining && sb == JobQueued) || (sa == JobQueued && sb == JobTraining)
	})
	rec := postTrain(t, s, "/v1/heads/c/train", "text/csv", trainCSV)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Errorf("third job: %d, want 429 with Retry-After", rec.Code)
	}
	// A failing save fails the job and leaves nothing served.
	store.mu.Lock()
	store.fail = errors.New("disk full")
	store.mu.Unlock()
	close(gate)
	for _, id := range []string{a.ID, b.ID} {
		v := waitJob(t, s, id, JobFailed, JobSucceeded)
		if v.State != JobFailed || !strings.Contains(v.Error, "disk full") {
			t.Errorf("job %s: %s %q", id, v.State, v.Error)
		}
	}
	if s.Heads().Len() != 0 {
		t.Error("a head whose save failed is being served")
	}
}

func TestTrainingUnavailable(t *testing.T) {
	t.Parallel()
	s, _ := testServer(t, func(c *Config) { c.AdminToken = adminTok })
	rec := postTrain(t, s, "/v1/heads/x/train", "text/csv", trainCSV)
	if rec.Code != http.StatusNotImplemented {
		t.Errorf("training without a trainer: %d", rec.Code)
	}
}

func TestJobRetention(t *testing.T) {
	t.Parallel()
	s := trainServer(t, &fakeTrainer{epochs: 1}, newMemStore(), func(c *Config) { c.JobRetention = 2 })
	var ids []string
	for i := range 4 {
		id := decode[TrainAccepted](t, postTrain(t, s, fmt.Sprintf("/v1/heads/h%d/train", i), "text/csv", trainCSV)).ID
		waitJob(t, s, id, JobSucceeded)
		ids = append(ids, id)
	}
	waitFor(t, func() bool { return len(s.jobs.list()) == 2 })
	if rec := call(t, s.Handler(), "GET", "/v1/jobs/"+ids[0], nil); rec.Code != 404 {
		t.Errorf("oldest job still visible: %d", rec.Code)
	}
	if rec := call(t, s.Handler(), "GET", "/v1/jobs/"+ids[3], nil); rec.Code != 200 {
		t.Errorf("newest job gone: %d", rec.Code)
	}
}
