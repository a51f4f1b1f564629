package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bertserve/bertserve/encoder/atomicfile"
	"github.com/bertserve/bertserve/encoder/shards"
)

// e2eCorpus is GLUE SST-2's 60,614 training phrases when ../shared/data
// has them, else a synthetic corpus of the same shape.
func e2eCorpus(t *testing.T) string {
	t.Helper()
	real := filepath.Join(repoRoot(t), "..", "shared", "data", "sst2-glue", "train.tsv")
	if _, err := os.Stat(real); err == nil {
		return real
	}
	t.Logf("no %s: using a synthetic corpus", real)
	p := filepath.Join(t.TempDir(), "corpus.tsv")
	writeSentiment(t, p, 30307)
	return p
}

// TestIndexedJobSimulation runs `bertserve embed --shard auto` as a
// Kubernetes Indexed Job would: N worker processes at once, each with its
// JOB_COMPLETION_INDEX, one of them killed with SIGKILL mid-shard and
// started again (as backoffLimitPerIndex retries a pod), one retried after
// it finished. After `bertserve merge` the result equals a single-process
// embed bit for bit. It is an end-to-end test: BERTSERVE_E2E=1 (make
// test-e2e) runs it.
func TestIndexedJobSimulation(t *testing.T) {
	if os.Getenv("BERTSERVE_E2E") != "1" {
		t.Skip("end-to-end: set BERTSERVE_E2E=1 (make test-e2e)")
	}
	model := cliModel(t)
	input := e2eCorpus(t)
	tmp := t.TempDir()
	out := filepath.Join(tmp, "emb") + "/"
	const n, victim = 4, 2
	worker := func(i int) *exec.Cmd {
		cmd := cli(t, []string{fmt.Sprintf("JOB_COMPLETION_INDEX=%d", i)}, "embed", "--model", model, "--input", input,
			"--shard", "auto", "--shards", fmt.Sprint(n), "--output", out, "--threads", "1", "--checkpoint-every", "0")
		cmd.Stderr = new(bytes.Buffer)
		return cmd
	}
	t0 := time.Now()
	single := filepath.Join(tmp, "single.npy")
	if o, err := cli(t, nil, "embed", "--model", model, "--input", input, "--output", single, "--threads", "2").CombinedOutput(); err != nil {
		t.Fatalf("single-process embed: %v\n%s", err, o)
	}
	t.Logf("single process: %v", time.Since(t0).Round(time.Millisecond))

	t0 = time.Now()
	cmds := make([]*exec.Cmd, n)
	for i := range cmds {
		cmds[i] = worker(i)
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	// Kill the victim once a checkpoint says it is part-way.
	cp := atomicfile.PartialManifestPath(filepath.Join(tmp, "emb", shards.Name(victim, n)))
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var m struct{ Rows int }
		if b, err := os.ReadFile(cp); err == nil && json.Unmarshal(b, &m) == nil && m.Rows > 0 {
			cmds[victim].Process.Signal(syscall.SIGKILL)
			cmds[victim].Wait()
			if !killed(cmds[victim]) {
				t.Fatalf("worker %d finished before it could be killed (its checkpoint said %d rows):\n%s", victim, m.Rows, cmds[victim].Stderr)
			}
			t.Logf("worker %d killed with SIGKILL after a checkpoint at %d rows", victim, m.Rows)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker %d wrote no checkpoint within 2 minutes:\n%s", victim, cmds[victim].Stderr)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if _, err := shards.Merge(filepath.Join(tmp, "emb"), filepath.Join(tmp, "early.npy")); err == nil {
		t.Fatal("merge accepted a directory with a killed shard")
	}
	// The Job controller starts the failed index again.
	cmds[victim] = worker(victim)
	if err := cmds[victim].Start(); err != nil {
		t.Fatal(err)
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("worker %d: %v\n%s", i, err, c.Stderr)
		}
	}
	if s := cmds[victim].Stderr.(*bytes.Buffer).String(); !strings.Contains(s, "resuming") || !strings.Contains(s, "kept from the partial output") {
		t.Fatalf("the restarted worker did not resume its shard:\n%s", s)
	}
	t.Logf("%d workers, one killed and restarted: %v", n, time.Since(t0).Round(time.Millisecond))
	// A retried pod whose shard is done does nothing.
	again := worker(0)
	if err := again.Run(); err != nil || !strings.Contains(again.Stderr.(*bytes.Buffer).String(), "nothing to do") {
		t.Fatalf("retry of a finished index: %v\n%s", err, again.Stderr)
	}
	merged := filepath.Join(tmp, "merged.npy")
	if o, err := cli(t, nil, "merge", out, "--output", merged).CombinedOutput(); err != nil {
		t.Fatalf("merge: %v\n%s", err, o)
	}
	a, b := readBytes(t, single), readBytes(t, merged)
	if !bytes.Equal(a, b) {
		t.Fatalf("merged shards (%d bytes) differ from the single-process embed (%d bytes)", len(b), len(a))
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "emb", ".*")); len(left) > 0 {
		t.Fatalf("left in the shard directory: %v", left)
	}
	// merge names a shard that is missing.
	os.Remove(filepath.Join(tmp, "emb", shards.ManifestName(1, n)))
	o, err := cli(t, nil, "merge", out, "--output", filepath.Join(tmp, "again.npy")).CombinedOutput()
	if err == nil || !strings.Contains(string(o), "part-00001-of-00004.npy: no manifest") {
		t.Fatalf("merge with shard 1 unfinished: %v\n%s", err, o)
	}
}
