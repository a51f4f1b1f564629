package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bertserve/bertserve/encoder"
	"github.com/bertserve/bertserve/encoder/atomicfile"
	"github.com/bertserve/bertserve/encoder/npy"
	"github.com/bertserve/bertserve/head"
)

// With BERTSERVE_TEST_MAIN=1 the test binary is the bertserve binary: the
// kill tests run the CLI's real entry point in a child process and kill it.
func TestMain(m *testing.M) {
	if os.Getenv("BERTSERVE_TEST_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stderr))
	}
	os.Exit(m.Run())
}

// skipUnderRace: the kill tests start a dozen child processes of this
// test binary; built with -race each takes seconds to start, and what they
// check is crash behaviour, not data races. `make test` runs them again
// without -race.
func skipUnderRace(t *testing.T) {
	t.Helper()
	if raceEnabled {
		t.Skip("kill tests run without -race (make test runs them so: go test -run TestKill ./cmd/bertserve)")
	}
}

// cli starts `bertserve args...` as a child process.
func cli(t *testing.T, env []string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "BERTSERVE_TEST_MAIN=1"), env...)
	return cmd
}

// killed reports whether a finished child died of SIGKILL.
func killed(cmd *exec.Cmd) bool {
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// writeEmbeddings writes n rows of two separable classes as x.npy + y.txt.
func writeEmbeddings(t *testing.T, dir string, n, d int) (string, string) {
	t.Helper()
	x, y := blobs(n, d)
	xp, yp := filepath.Join(dir, "x.npy"), filepath.Join(dir, "y.txt")
	f, err := os.Create(xp)
	if err != nil {
		t.Fatal(err)
	}
	if err := npy.Write(f, x); err != nil {
		t.Fatal(err)
	}
	f.Close()
	writeFile(t, yp, strings.Join(y, "\n")+"\n")
	return xp, yp
}

// headSeed returns the seed the head in dir was trained with, after the
// next command (eval, through the real entry point) has opened it: the
// head must be whole, the old one or the new one, and nothing of the
// killed run may remain beside it.
func headSeed(t *testing.T, dir, xp, yp string) uint64 {
	t.Helper()
	out, err := cli(t, nil, "eval", "--head", dir, "--embeddings", xp, "--labels", yp, "--json").CombinedOutput()
	if err != nil {
		t.Fatalf("the next command cannot open %s: %v\n%s", dir, err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, head.MetaFile))
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Training struct {
			Seed uint64 `json:"seed"`
		} `json:"training"`
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{head.TensorsFile, head.CurvesJSONFile, head.CurvesPNGFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("the head lacks %s after the kill: %v", f, err)
		}
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), ".*"))
	inside, _ := filepath.Glob(filepath.Join(dir, ".*"))
	if len(left)+len(inside) > 0 {
		t.Errorf("temporaries left after the next command: %v %v", left, inside)
	}
	return meta.Training.Seed
}

// TestKillTrainAtEveryPoint kills `bertserve train --out DIR` over an
// existing head at every crash point of the save (the atomic exchange,
// and the two renames where the exchange is unavailable): the next
// command finds the old head or the new one under DIR, whole.
func TestKillTrainAtEveryPoint(t *testing.T) {
	skipUnderRace(t)
	tmp := t.TempDir()
	xp, yp := writeEmbeddings(t, tmp, 200, 8)
	dir := filepath.Join(tmp, "heads", "h")
	train := func(seed int, env ...string) *exec.Cmd {
		cmd := cli(t, env, "train", "--embeddings", xp, "--labels", yp, "--out", dir, "--seed", fmt.Sprint(seed))
		cmd.Run()
		return cmd
	}
	if cmd := train(1); cmd.ProcessState.ExitCode() != 0 {
		t.Fatalf("the first train failed")
	}
	seed := 1
	for _, tc := range []struct {
		point      string
		noExchange bool
	}{
		{atomicfile.PointDirFilled, false}, {atomicfile.PointDirExchanged, false},
		{atomicfile.PointDirFilled, true}, {atomicfile.PointDirOldMoved, true}, {atomicfile.PointDirNewPlaced, true},
	} {
		env := []string{"BERTSERVE_TEST_CRASH_AT=" + tc.point}
		if tc.noExchange {
			env = append(env, "BERTSERVE_TEST_NO_EXCHANGE=1")
		}
		next := seed + 1
		if cmd := train(next, env...); !killed(cmd) {
			t.Fatalf("%s: train was not killed at the crash point", tc.point)
		}
		got := headSeed(t, dir, xp, yp)
		if got != uint64(seed) && got != uint64(next) {
			t.Fatalf("%s (exchange %v): the head has seed %d, neither the old %d nor the new %d", tc.point, !tc.noExchange, got, seed, next)
		}
		t.Logf("killed at %s (exchange %v): the next command found the %s head", tc.point, !tc.noExchange,
			map[bool]string{true: "new", false: "old"}[got == uint64(next)])
		seed = int(got)
	}
}

// TestKillTrainAtRandomTimes kills `bertserve train --out DIR` at random
// moments, between start and the end of its save.
func TestKillTrainAtRandomTimes(t *testing.T) {
	skipUnderRace(t)
	tmp := t.TempDir()
	xp, yp := writeEmbeddings(t, tmp, 400, 16)
	dir := filepath.Join(tmp, "h")
	args := func(seed int) []string {
		return []string{"train", "--embeddings", xp, "--labels", yp, "--out", dir, "--seed", fmt.Sprint(seed),
			"--head", "mlp", "--hidden", "32", "--epochs", "3", "--patience", "0"}
	}
	// How long a whole run takes here, to aim the kills inside it.
	t0 := time.Now()
	if out, err := cli(t, nil, args(1)...).CombinedOutput(); err != nil {
		t.Fatalf("train: %v\n%s", err, out)
	}
	whole := time.Since(t0)
	seeds := map[uint64]bool{1: true}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 8))
	for round := 0; round < 6; round++ {
		seed := 10 + round
		cmd := cli(t, nil, args(seed)...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rng.Int64N(int64(whole) + 1)))
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		seeds[uint64(seed)] = true
		if got := headSeed(t, dir, xp, yp); !seeds[got] {
			t.Fatalf("round %d: a head of seed %d, which no run wrote", round, got)
		}
	}
	t.Logf("a whole train takes %v; 6 kills at random times within it", whole.Round(time.Millisecond))
}

// TestKillEmbed: a killed `bertserve embed` never leaves a partial
// output under the output's name; what it did is kept as a resumable
// partial (.X.partial + .X.partial.json), which the next embed to the same
// output continues and removes, leaving no temporary and no partial.
func TestKillEmbed(t *testing.T) {
	skipUnderRace(t)
	model := filepath.Join(encoder.CacheDir(), "models", "default")
	if _, err := os.Stat(filepath.Join(model, "model.onnx")); err != nil {
		model = cliModel(t) // skips without ONNX Runtime
	} else if _, err := encoder.FindLibrary(""); err != nil {
		model = cliModel(t)
	}
	tmp := t.TempDir()
	input := filepath.Join(tmp, "texts.txt")
	var b strings.Builder
	for i := 0; i < 300; i++ {
		fmt.Fprintf(&b, "line %d of a corpus that is embedded and killed\n", i)
	}
	writeFile(t, input, b.String())
	out := filepath.Join(tmp, "emb.npy")
	embed := func(env ...string) *exec.Cmd {
		return cli(t, env, "embed", "--model", model, "--input", input, "--output", out, "--threads", "1")
	}
	// At the deterministic points. file-written: the first checkpoint's
	// manifest is complete in its temporary (the rows are in the partial,
	// no checkpoint claims them yet), so the next embed starts afresh.
	// partial-written: the whole output is in its partial, checkpointed,
	// so the next embed resumes it with nothing left to do.
	for _, tc := range []struct{ point, want string }{
		{atomicfile.PointFileWritten, "embedded 300 rows (dim"},
		{atomicfile.PointPartialWritten, "300 kept from the partial output, 0 embedded now"},
	} {
		cmd := embed("BERTSERVE_TEST_CRASH_AT=" + tc.point)
		cmd.Run()
		if !killed(cmd) {
			t.Fatalf("embed was not killed at the crash point %s", tc.point)
		}
		if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s: a killed embed left %s: %v", tc.point, out, err)
		}
		if _, err := os.Stat(atomicfile.PartialPath(out)); err != nil {
			t.Fatalf("%s: the killed embed should leave its resumable partial: %v", tc.point, err)
		}
		o, err := embed().CombinedOutput()
		if err != nil {
			t.Fatalf("embed after the kill at %s: %v\n%s", tc.point, err, o)
		}
		if !strings.Contains(string(o), tc.want) {
			t.Fatalf("embed after the kill at %s does not say %q:\n%s", tc.point, tc.want, o)
		}
		if left := leftovers(tmp, "emb.npy"); len(left) > 0 {
			t.Fatalf("the next embed did not clean up after the killed one: %v", left)
		}
		os.Remove(out)
	}
	if o, err := embed().CombinedOutput(); err != nil {
		t.Fatalf("embed: %v\n%s", err, o)
	}
	whole, err := npy.ReadFile(out)
	if err != nil || whole.Rows != 300 {
		t.Fatalf("output after the rerun: %v rows, %v", whole, err)
	}
	// At random moments: the output is the previous whole one or a new
	// whole one, never a partial file.
	for round := 0; round < 4; round++ {
		cmd := embed()
		cmd.Start()
		time.Sleep(time.Duration(50+rand.IntN(400)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		m, err := npy.ReadFile(out)
		if err != nil || m.Rows != 300 {
			t.Fatalf("round %d: after a kill the output is not whole: %v", round, err)
		}
	}
	if o, err := embed().CombinedOutput(); err != nil {
		t.Fatalf("embed: %v\n%s", err, o)
	}
	if left := leftovers(tmp, "emb.npy"); len(left) > 0 {
		t.Fatalf("temporaries or partials left: %v", left)
	}
}

// leftovers lists every hidden file of X in dir: its temporaries, its
// resumable partial and checkpoint, and their temporaries.
func leftovers(dir, base string) []string {
	left, _ := filepath.Glob(filepath.Join(dir, ".*"+base+"*"))
	return left
}

// temporaries lists X's temporaries in dir (not its resumable partials).
func temporaries(dir, base string) []string {
	left, _ := filepath.Glob(filepath.Join(dir, atomicfile.TempPrefix(base)+"*"))
	return left
}
