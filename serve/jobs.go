package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/bertserve/bertserve/head"
)

// JobState is where a training job is.
type JobState string

// Job states. The last three are final.
const (
	JobQueued    JobState = "queued"
	JobEmbedding JobState = "embedding"
	JobTraining  JobState = "training"
	JobSaving    JobState = "saving"
	JobSucceeded JobState = "succeeded"
	JobFailed    JobState = "failed"
	JobCanceled  JobState = "canceled"
)

func (s JobState) final() bool { return s == JobSucceeded || s == JobFailed || s == JobCanceled }

// JobView is a training job as GET /v1/jobs/{id} shows it.
type JobView struct {
	ID         string             `json:"id"`
	Head       string             `json:"head"`
	State      JobState           `json:"state"`
	CreatedAt  time.Time          `json:"created_at"`
	StartedAt  time.Time          `json:"started_at,omitzero"`
	FinishedAt time.Time          `json:"finished_at,omitzero"`
	Examples   int                `json:"examples"`
	Labels     []string           `json:"labels"`
	Embedded   int                `json:"embedded"`
	Step       string             `json:"step"`
	Epoch      int                `json:"epoch"`
	Epochs     int                `json:"epochs"`
	Curves     Curves             `json:"curves"`
	Metrics    map[string]float64 `json:"metrics,omitempty"`
	// Options is the whole training configuration the job runs with:
	// the request's options over the defaults.
	Options head.TrainConfig `json:"options"`
	Error   string           `json:"error,omitempty"`
}

type job struct {
	id, head string
	cfg      head.TrainConfig
	set      *head.Labelled
	ctx      context.Context
	cancel   context.CancelFunc
	done     chan struct{}

	mu   sync.Mutex
	view JobView
}

func (j *job) snapshot() JobView {
	j.mu.Lock()
	defer j.mu.Unlock()
	v := j.view
	v.Labels = slices.Clone(v.Labels)
	v.Curves = Curves{Epoch: slices.Clone(v.Curves.Epoch), TrainLoss: slices.Clone(v.Curves.TrainLoss),
		ValLoss: slices.Clone(v.Curves.ValLoss), ValMetric: slices.Clone(v.Curves.ValMetric), Metric: v.Curves.Metric, Step: v.Curves.Step}
	v.Metrics = maps.Clone(v.Metrics)
	return v
}

func (j *job) update(f func(v *JobView)) {
	j.mu.Lock()
	f(&j.view)
	j.mu.Unlock()
}

func (j *job) state() JobState {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.view.State
}

// jobManager runs training jobs, at most MaxJobs at once, and remembers
// the last JobRetention finished ones.
type jobManager struct {
	s      *Server
	mu     sync.Mutex
	jobs   map[string]*job
	order  []string
	sem    chan struct{}
	wg     sync.WaitGroup
	closed bool
}

func newJobManager(s *Server) *jobManager {
	return &jobManager{s: s, jobs: map[string]*job{}, sem: make(chan struct{}, s.cfg.MaxJobs)}
}

var errJobsClosed = errors.New("the server is shutting down")

// submit starts a job that trains head name on set.
func (m *jobManager) submit(name string, set *head.Labelled, cfg head.TrainConfig) (*job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errJobsClosed
	}
	active := 0
	for _, j := range m.jobs {
		if st := j.state(); !st.final() {
			active++
			if j.head == name {
				return nil, conflict("training job %s is already training head %q; wait for it or cancel it with DELETE /v1/jobs/%s", j.id, name, j.id)
			}
		}
	}
	if active >= m.s.cfg.MaxJobs+m.s.cfg.MaxPendingJobs {
		return nil, overloaded(10*time.Second, "%d training jobs are already running or waiting; retry when one has finished", active)
	}
	classes, _ := set.Classes()
	ctx, cancel := context.WithCancel(context.Background())
	j := &job{id: "job-" + randomHex(8), head: name, cfg: cfg, set: set, ctx: ctx, cancel: cancel, done: make(chan struct{})}
	j.view = JobView{ID: j.id, Head: name, State: JobQueued, CreatedAt: time.Now().UTC(), Examples: set.Len(),
		Labels: classes, Step: "epoch", Epochs: cfg.Epochs, Options: cfg, Curves: emptyCurves()}
	m.jobs[j.id] = j
	m.order = append(m.order, j.id)
	m.wg.Add(1)
	go m.run(j)
	return j, nil
}

func emptyCurves() Curves {
	return Curves{Epoch: []int{}, TrainLoss: []JSONFloat{}, ValLoss: []JSONFloat{}, ValMetric: []JSONFloat{}, Metric: "accuracy", Step: "epoch"}
}

func (m *jobManager) get(id string) (*job, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, ok := m.jobs[id]
	return j, ok
}

func (m *jobManager) list() []JobView {
	m.mu.Lock()
	ids := slices.Clone(m.order)
	m.mu.Unlock()
	out := make([]JobView, 0, len(ids))
	for i := len(ids) - 1; i >= 0; i-- { // newest first
		if j, ok := m.get(ids[i]); ok {
			out = append(out, j.snapshot())
		}
	}
	return out
}

// activeFor returns the unfinished job training head name, if any.
func (m *jobManager) activeFor(name string) *job {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, j := range m.jobs {
		if j.head == name && !j.state().final() {
			return j
		}
	}
	return nil
}

func (m *jobManager) stateCounts() []gaugeSample {
	counts := map[JobState]int{}
	m.mu.Lock()
	for _, j := range m.jobs {
		counts[j.state()]++
	}
	m.mu.Unlock()
	var out []gaugeSample
	for _, st := range []JobState{JobQueued, JobEmbedding, JobTraining, JobSaving, JobSucceeded, JobFailed, JobCanceled} {
		out = append(out, gaugeSample{values: []string{string(st)}, v: float64(counts[st])})
	}
	return out
}

// shutdown cancels every unfinished job and waits for them, until ctx
// ends (with a short grace when it already has: a cancelled job stops
// within an epoch). A cancelled job saves nothing, so the heads directory
// only ever holds whole heads. The error names the jobs that did not stop.
func (m *jobManager) shutdown(ctx context.Context) error {
	m.mu.Lock()
	m.closed = true
	active := 0
	for _, j := range m.jobs {
		if !j.state().final() {
			active++
		}
		j.cancel()
	}
	m.mu.Unlock()
	if active == 0 {
		return nil
	}
	m.s.log.Info("cancelling training jobs; they save nothing", "jobs", active)
	done := make(chan struct{})
	go func() { m.wg.Wait(); close(done) }()
	grace := time.NewTimer(2 * time.Second)
	defer grace.Stop()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	select {
	case <-done:
		return nil
	case <-grace.C:
	}
	still := 0
	for _, v := range m.list() {
		if !v.State.final() {
			still++
		}
	}
	return fmt.Errorf("%d training jobs did not stop after being cancelled", still)
}

// prune forgets the oldest finished jobs beyond the retention.
func (m *jobManager) prune() {
	m.mu.Lock()
	defer m.mu.Unlock()
	finished := 0
	for _, id := range m.order {
		if m.jobs[id].state().final() {
			finished++
		}
	}
	keep := m.order[:0]
	for _, id := range m.order {
		if finished > m.s.cfg.JobRetention && m.jobs[id].state().final() {
			delete(m.jobs, id)
			finished--
			continue
		}
		keep = append(keep, id)
	}
	m.order = keep
}

func (m *jobManager) run(j *job) {
	defer m.wg.Done()
	defer close(j.done)
	defer m.prune()
	log := m.s.log.With("job", j.id, "head", j.head)

	select {
	case m.sem <- struct{}{}:
		defer func() { <-m.sem }()
	case <-j.ctx.Done():
		m.finish(j, log, nil, j.ctx.Err())
		return
	}
	j.update(func(v *JobView) { v.State = JobEmbedding; v.StartedAt = time.Now().UTC() })
	log.Info("training job started", "examples", j.set.Len())
	metrics, err := m.train(j)
	m.finish(j, log, metrics, err)
}

func (m *jobManager) finish(j *job, log *slog.Logger, metrics map[string]float64, err error) {
	j.set = nil
	j.update(func(v *JobView) {
		v.FinishedAt = time.Now().UTC()
		switch {
		case err == nil:
			v.State = JobSucceeded
			v.Metrics = metrics
		case errors.Is(err, context.Canceled) || j.ctx.Err() != nil:
			v.State = JobCanceled
		default:
			v.State = JobFailed
			v.Error = err.Error()
		}
	})
	switch st := j.state(); st {
	case JobSucceeded:
		log.Info("training job succeeded; head swapped in", "metrics", metrics)
	case JobCanceled:
		log.Info("training job canceled; nothing saved")
	default:
		log.Warn("training job failed", "err", err)
	}
}

// train runs the job through the trainer (the head pipeline: embed,
// split, train, evaluate), then checks, saves and swaps the head in.
func (m *jobManager) train(j *job) (map[string]float64, error) {
	if _, err := m.s.model(); err != nil {
		return nil, errors.New("the model is not loaded yet")
	}
	set := j.set
	j.set = nil // the trainer holds the texts as long as it needs them
	progress := func(e head.Event) {
		j.update(func(v *JobView) {
			switch e.Stage {
			case head.StageEmbedding:
				v.State, v.Embedded = JobEmbedding, e.Done
			case head.StageSplit:
				v.State = JobTraining
			case head.StageTraining:
				st := e.Epoch
				v.State = JobTraining
				if st.Step != "" {
					v.Step = st.Step
					v.Curves.Step = st.Step
				}
				if st.Metric != "" {
					v.Curves.Metric = st.Metric
				}
				v.Epoch = st.Epoch
				if st.Epochs > 0 {
					v.Epochs = st.Epochs
				}
				vl, vm := math.NaN(), math.NaN()
				if st.HasVal {
					vl, vm = st.ValLoss, st.ValMetric
				}
				v.Curves.Epoch = append(v.Curves.Epoch, st.Epoch)
				v.Curves.TrainLoss = append(v.Curves.TrainLoss, JSONFloat(st.TrainLoss))
				v.Curves.ValLoss = append(v.Curves.ValLoss, JSONFloat(vl))
				v.Curves.ValMetric = append(v.Curves.ValMetric, JSONFloat(vm))
			}
		})
	}
	h, err := m.s.cfg.Train(j.ctx, set, j.cfg, progress)
	if err != nil {
		if j.ctx.Err() != nil {
			return nil, j.ctx.Err()
		}
		return nil, fmt.Errorf("training: %w", err)
	}
	if err := j.ctx.Err(); err != nil {
		return nil, err
	}
	if err := m.s.checkHead(j.head, h); err != nil {
		return nil, fmt.Errorf("the trained head does not fit the model: %w", err)
	}

	j.update(func(v *JobView) { v.State = JobSaving })
	if err := m.s.cfg.Store.Save(j.head, h); err != nil {
		return nil, err
	}
	m.s.recordStamp(j.head)
	lh, err := m.s.heads.Put(j.head, h)
	if err != nil {
		return nil, err
	}
	return lh.Info.Metrics, nil
}
