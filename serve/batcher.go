package serve

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// BatcherConfig configures NewBatcher.
type BatcherConfig struct {
	// Embed is called with the merged texts of one batch.
	Embed func(ctx context.Context, texts []string) (*Embeddings, error)
	// EmbedNeeds, when set, is called instead for a batch in which some
	// request needs tail outputs, with each text's Need.
	EmbedNeeds func(ctx context.Context, texts []string, needs []Need) (*Embeddings, error)
	// EmbedIDs, when set, is called with the merged token-id inputs of one
	// batch (requests submitted with SubmitIDs), in the same batch as the
	// texts: a batch with both makes one call of each.
	EmbedIDs func(ctx context.Context, ids [][]int64) (*Embeddings, error)
	// MaxBatchTokens bounds the tokens of one batch; a request that alone
	// exceeds it runs alone. Default 16384.
	MaxBatchTokens int
	// MaxBatchRequests bounds the requests of one batch; 1 disables
	// merging. Default 32.
	MaxBatchRequests int
	// MaxWait is how long a batch may wait for company, counted from the
	// arrival of its first request. It only waits while requests announced
	// with Expect are still on their way (being tokenized): a lone request
	// goes at once, and one that already waited MaxWait behind a busy
	// encoder is sent with whatever is queued.
	MaxWait time.Duration
	// Workers is the number of batches embedded at once. Default 1.
	Workers int
	// QueueSize bounds the waiting requests; Submit fails with
	// ErrQueueFull beyond it. Default 1024.
	QueueSize int
	// Observe, when set, is called after every batch.
	Observe func(BatchStats)
}

// BatchStats describes one finished batch.
type BatchStats struct {
	Requests, Texts, Tokens int
	// Wall is the duration of the Embed call; Tokenize and Inference are
	// what the embedder reported (Inference defaults to Wall).
	Wall, Tokenize, Inference time.Duration
	Err                       error
}

// BatchResult is one request's share of a batch.
type BatchResult struct {
	// Vectors[i] is the embedding of the request's texts[i].
	Vectors [][]float32
	// Tails[i] are the tail outputs of texts[i] by key, when the request
	// needed tails.
	Tails []map[string][]float32
	// TokenCounts[i] is the embedder's token count for texts[i], or nil.
	TokenCounts []int
	// QueueTime is from Submit to the start of the batch's Embed call.
	QueueTime time.Duration
	// TokenizeTime and InferenceTime are the whole batch's.
	TokenizeTime, InferenceTime time.Duration
	// BatchRequests and BatchTexts describe the batch it ran in.
	BatchRequests, BatchTexts int
}

// Errors returned by Submit.
var (
	ErrBatcherClosed = errors.New("the server is shutting down")
	ErrQueueFull     = errors.New("the batch queue is full")
)

// WaitError is returned by Submit when the request's context ended first.
// Started tells whether its texts had already been handed to the encoder.
type WaitError struct {
	Started bool
	Err     error
}

func (e *WaitError) Error() string {
	where := "waiting in the batch queue"
	if e.Started {
		where = "while being embedded"
	}
	return fmt.Sprintf("request ended %s: %v", where, e.Err)
}

func (e *WaitError) Unwrap() error { return e.Err }

// Batcher merges the texts of concurrent requests into encoder calls. Each
// request gets exactly its own vectors back, in order. Requests whose
// context ends while queued are dropped before they cost encoder time.
type Batcher struct {
	cfg   BatcherConfig
	queue chan *batchItem
	depth atomic.Int64
	// expected counts requests announced by Expect and not yet queued.
	expected atomic.Int64
	mu       sync.RWMutex
	closed   bool
	wg       sync.WaitGroup
}

const (
	itemQueued int32 = iota
	itemRunning
	itemAbandoned
)

type batchItem struct {
	ctx      context.Context
	texts    []string
	ids      [][]int64 // instead of texts, for SubmitIDs
	tokens   int
	enqueued time.Time
	state    atomic.Int32
	done     chan batchReply
	ticket   *Ticket
	need     Need
}

// n is the number of inputs of the item.
func (it *batchItem) n() int { return len(it.texts) + len(it.ids) }

// taken is called when a worker receives the item from the queue.
func (it *batchItem) taken() *batchItem {
	if it.ticket != nil {
		it.ticket.Cancel()
	}
	return it
}

type batchReply struct {
	res *BatchResult
	err error
}

// NewBatcher starts the batcher's workers. Close stops them.
func NewBatcher(cfg BatcherConfig) *Batcher {
	if cfg.MaxBatchTokens <= 0 {
		cfg.MaxBatchTokens = 16384
	}
	if cfg.MaxBatchRequests <= 0 {
		cfg.MaxBatchRequests = 32
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 1024
	}
	if cfg.MaxWait < 0 {
		cfg.MaxWait = 0
	}
	b := &Batcher{cfg: cfg, queue: make(chan *batchItem, cfg.QueueSize)}
	b.wg.Add(cfg.Workers)
	for range cfg.Workers {
		go b.worker()
	}
	return b
}

// Depth is the number of requests waiting for an encoder call.
func (b *Batcher) Depth() int { return int(b.depth.Load()) }

// Ticket is a request announced to the batcher before its texts are
// ready. Submit or Cancel it exactly once.
type Ticket struct {
	b    *Batcher
	done atomic.Bool
}

// Expect announces a request that will be submitted soon. While announced
// requests are pending, a batch being filled waits for them (up to
// MaxWait); with none pending it leaves at once.
func (b *Batcher) Expect() *Ticket {
	b.expected.Add(1)
	return &Ticket{b: b}
}

// Cancel withdraws the announcement; it is a no-op after Submit.
func (t *Ticket) Cancel() {
	if t.done.CompareAndSwap(false, true) {
		t.b.expected.Add(-1)
	}
}

// Submit is Batcher.Submit for an announced request.
func (t *Ticket) Submit(ctx context.Context, texts []string, tokens int) (*BatchResult, error) {
	return t.b.submit(ctx, texts, tokens, t, baseOnly)
}

// SubmitNeed is Submit for a request that needs tail outputs too.
func (t *Ticket) SubmitNeed(ctx context.Context, texts []string, tokens int, need Need) (*BatchResult, error) {
	return t.b.submit(ctx, texts, tokens, t, need)
}

// SubmitIDs is Submit for token-id inputs (BatcherConfig.EmbedIDs); they
// get the base output only.
func (t *Ticket) SubmitIDs(ctx context.Context, ids [][]int64, tokens int) (*BatchResult, error) {
	if t.b.cfg.EmbedIDs == nil {
		t.Cancel()
		return nil, errors.New("this encoder does not take token ids")
	}
	return t.b.submitItem(ctx, &batchItem{ids: ids, tokens: tokens, need: baseOnly}, t)
}

// Submit queues texts (tokens is their total token count, used for the
// batch budget) and waits for their vectors or for ctx to end.
func (b *Batcher) Submit(ctx context.Context, texts []string, tokens int) (*BatchResult, error) {
	return b.submit(ctx, texts, tokens, nil, baseOnly)
}

func (b *Batcher) submit(ctx context.Context, texts []string, tokens int, t *Ticket, need Need) (*BatchResult, error) {
	return b.submitItem(ctx, &batchItem{texts: texts, tokens: tokens, need: need}, t)
}

func (b *Batcher) submitItem(ctx context.Context, it *batchItem, t *Ticket) (*BatchResult, error) {
	if t != nil {
		defer t.Cancel() // covers every early return
	}
	if it.n() == 0 {
		return &BatchResult{}, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, &WaitError{Err: err}
	}
	// An announced request stays counted until a worker takes it off the
	// queue, so a worker never sees it neither queued nor expected.
	it.ctx, it.enqueued, it.done, it.ticket = ctx, time.Now(), make(chan batchReply, 1), t
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return nil, ErrBatcherClosed
	}
	select {
	case b.queue <- it:
		b.depth.Add(1)
	default:
		b.mu.RUnlock()
		return nil, ErrQueueFull
	}
	b.mu.RUnlock()

	select {
	case r := <-it.done:
		return r.res, r.err
	case <-ctx.Done():
		if it.state.CompareAndSwap(itemQueued, itemAbandoned) {
			return nil, &WaitError{Err: ctx.Err()}
		}
		// The encoder has it; its vectors will be dropped.
		return nil, &WaitError{Started: true, Err: ctx.Err()}
	}
}

// Close stops accepting requests, lets the workers finish what is queued,
// and waits for them.
func (b *Batcher) Close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.queue)
	}
	b.mu.Unlock()
	b.wg.Wait()
}

func (b *Batcher) worker() {
	defer b.wg.Done()
	var carry *batchItem
	for {
		first := carry
		carry = nil
		if first == nil {
			it, ok := <-b.queue
			if !ok {
				return
			}
			first = it.taken()
		}
		if b.dropIfDead(first) {
			continue
		}
		batch := []*batchItem{first}
		tokens := first.tokens
		batch, carry = b.collect(batch, tokens, first.enqueued.Add(b.cfg.MaxWait))
		b.run(batch)
	}
}

// collect adds queued requests to batch until a bound is hit or the
// deadline passes. A request that would overflow the token budget is
// returned as carry, to start the next batch.
func (b *Batcher) collect(batch []*batchItem, tokens int, deadline time.Time) ([]*batchItem, *batchItem) {
	var timeout <-chan time.Time
	if wait := time.Until(deadline); wait > 0 && b.cfg.MaxBatchRequests > 1 {
		t := time.NewTimer(wait)
		defer t.Stop()
		timeout = t.C
	}
	for len(batch) < b.cfg.MaxBatchRequests && tokens < b.cfg.MaxBatchTokens {
		var it *batchItem
		var ok bool
		select {
		case it, ok = <-b.queue:
		default:
			// Nothing queued: wait only if someone is on the way.
			if timeout == nil || b.expected.Load() == 0 {
				return batch, nil
			}
			select {
			case it, ok = <-b.queue:
			case <-timeout:
				return batch, nil
			}
		}
		if !ok {
			return batch, nil
		}
		it.taken()
		if b.dropIfDead(it) {
			continue
		}
		if tokens+it.tokens > b.cfg.MaxBatchTokens {
			return batch, it
		}
		batch = append(batch, it)
		tokens += it.tokens
	}
	return batch, nil
}

// dropIfDead discards a request whose client is gone.
func (b *Batcher) dropIfDead(it *batchItem) bool {
	if it.state.Load() == itemAbandoned || it.ctx.Err() != nil {
		b.depth.Add(-1)
		return true
	}
	return false
}

func (b *Batcher) run(batch []*batchItem) {
	live := batch[:0]
	for _, it := range batch {
		b.depth.Add(-1)
		if it.state.CompareAndSwap(itemQueued, itemRunning) {
			live = append(live, it)
		}
	}
	if len(live) == 0 {
		return
	}
	var texts []string
	var ids [][]int64
	var needs []Need
	tokens, tailed := 0, false
	for _, it := range live {
		texts = append(texts, it.texts...)
		ids = append(ids, it.ids...)
		tokens += it.tokens
		tailed = tailed || it.need.hasTails()
	}
	if tailed {
		for _, it := range live {
			for range it.texts {
				needs = append(needs, it.need)
			}
		}
	}

	// The call is cancelled only when every request in it has gone.
	ctx, cancel := context.WithCancel(context.Background())
	var remaining atomic.Int32
	remaining.Store(int32(len(live)))
	stops := make([]func() bool, len(live))
	for i, it := range live {
		stops[i] = context.AfterFunc(it.ctx, func() {
			if remaining.Add(-1) == 0 {
				cancel()
			}
		})
	}
	start := time.Now()
	var res, idRes *Embeddings
	var err error
	if len(texts) > 0 {
		res, err = b.safeEmbed(ctx, texts, needs)
	}
	if err == nil && len(ids) > 0 {
		idRes, err = b.safeEmbedIDs(ctx, ids)
	}
	wall := time.Since(start)
	for _, stop := range stops {
		stop()
	}
	cancel()

	n := len(texts) + len(ids)
	stats := BatchStats{Requests: len(live), Texts: n, Tokens: tokens, Wall: wall, Inference: wall, Err: err}
	if err == nil {
		var inference time.Duration
		for _, r := range []*Embeddings{res, idRes} {
			if r != nil {
				stats.Tokenize += r.TokenizeTime
				inference += r.InferenceTime
			}
		}
		if inference > 0 {
			stats.Inference = inference
		}
	}
	if b.cfg.Observe != nil {
		b.cfg.Observe(stats)
	}

	off, idOff := 0, 0
	for _, it := range live {
		if err != nil {
			it.done <- batchReply{err: err}
			continue
		}
		src, at, k := res, &off, len(it.texts)
		if it.ids != nil {
			src, at, k = idRes, &idOff, len(it.ids)
		}
		lo := *at
		r := &BatchResult{
			Vectors:       src.Vectors[lo : lo+k : lo+k],
			QueueTime:     start.Sub(it.enqueued),
			TokenizeTime:  stats.Tokenize,
			InferenceTime: stats.Inference,
			BatchRequests: len(live),
			BatchTexts:    n,
		}
		if len(src.TokenCounts) == len(src.Vectors) {
			r.TokenCounts = src.TokenCounts[lo : lo+k : lo+k]
		}
		if len(src.Tails) == len(src.Vectors) {
			r.Tails = src.Tails[lo : lo+k : lo+k]
		}
		it.done <- batchReply{res: r}
		*at += k
	}
}

// safeEmbedIDs is safeEmbed for the token-id lane.
func (b *Batcher) safeEmbedIDs(ctx context.Context, ids [][]int64) (res *Embeddings, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, fmt.Errorf("encoder panicked: %v", p)
		}
	}()
	res, err = b.cfg.EmbedIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	if res == nil || len(res.Vectors) != len(ids) {
		got := 0
		if res != nil {
			got = len(res.Vectors)
		}
		return nil, fmt.Errorf("encoder returned %d vectors for %d token-id inputs", got, len(ids))
	}
	return res, nil
}

// safeEmbed calls Embed, turning a panic or a wrong-sized answer into an
// error so one bad batch cannot take the worker down.
func (b *Batcher) safeEmbed(ctx context.Context, texts []string, needs []Need) (res *Embeddings, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, fmt.Errorf("encoder panicked: %v", p)
		}
	}()
	if needs != nil {
		if b.cfg.EmbedNeeds == nil {
			return nil, errors.New("a head needs its own encoder layers (a tail), which this encoder cannot run")
		}
		res, err = b.cfg.EmbedNeeds(ctx, texts, needs)
		if err == nil && res != nil && len(res.Tails) != len(texts) {
			return nil, fmt.Errorf("encoder returned tail outputs for %d of %d texts", len(res.Tails), len(texts))
		}
	} else {
		res, err = b.cfg.Embed(ctx, texts)
	}
	if err != nil {
		return nil, err
	}
	if res == nil || len(res.Vectors) != len(texts) {
		got := 0
		if res != nil {
			got = len(res.Vectors)
		}
		return nil, fmt.Errorf("encoder returned %d vectors for %d texts", got, len(texts))
	}
	return res, nil
}
