package atomicfile

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The helper process: with ATOMICFILE_HELPER set, the test binary writes
// the directory (or file) it names over and over and never returns, until
// a crash point or the test kills it.
func TestMain(m *testing.M) {
	switch os.Getenv("ATOMICFILE_HELPER") {
	case "dir":
		helperDir(os.Getenv("ATOMICFILE_PATH"))
	case "file":
		helperFile(os.Getenv("ATOMICFILE_PATH"))
	}
	os.Exit(m.Run())
}

// helperDir replaces path with versions 1, 2, 3, ... of a directory of
// several files; each version's files all carry its number.
func helperDir(path string) {
	for v := 1; ; v++ {
		err := ReplaceDir(path, func(tmp string) error {
			for i := 0; i < 4; i++ {
				data := []byte(strings.Repeat(fmt.Sprintf("v%d ", v), 2000))
				if err := os.WriteFile(filepath.Join(tmp, fmt.Sprintf("f%d", i)), data, 0o644); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(3)
		}
	}
}

func helperFile(path string) {
	for v := 1; ; v++ {
		if err := WriteBytes(path, []byte(strings.Repeat(fmt.Sprintf("v%d ", v), 50000))); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(3)
		}
	}
}

func startHelper(t *testing.T, kind, path string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{"ATOMICFILE_HELPER=" + kind, "ATOMICFILE_PATH=" + path}, env...)...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// checkDir asserts path holds one whole version (every file the same
// version) and returns it; after RepairDir no temporary remains.
func checkDir(t *testing.T, path string) string {
	t.Helper()
	if err := RepairDir(path); err != nil {
		t.Fatalf("RepairDir: %v", err)
	}
	var version string
	for i := 0; i < 4; i++ {
		b, err := os.ReadFile(filepath.Join(path, fmt.Sprintf("f%d", i)))
		if err != nil {
			t.Fatalf("after the kill, %s is not a whole directory: %v", path, err)
		}
		v, _, _ := strings.Cut(string(b), " ")
		if version == "" {
			version = v
		} else if v != version {
			t.Fatalf("%s mixes versions %s and %s", path, version, v)
		}
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*"))
	if len(left) > 0 {
		t.Fatalf("temporaries left after repair: %v", left)
	}
	return version
}

// TestKillAtEveryPoint kills a writer at each crash point (with the atomic
// exchange and with two renames) and checks that the next reader finds
// the old or the new directory, whole, and no temporaries.
func TestKillAtEveryPoint(t *testing.T) {
	if testing.Short() {
		t.Skip("kill tests start helper processes")
	}
	for _, tc := range []struct {
		point      string
		noExchange bool
	}{
		{PointDirFilled, false}, {PointDirExchanged, false},
		{PointDirFilled, true}, {PointDirOldMoved, true}, {PointDirNewPlaced, true},
	} {
		t.Run(fmt.Sprintf("%s/exchange=%v", tc.point, !tc.noExchange), func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "head")
			// Version 1 is written whole first: the crash point is armed
			// from the second write on (first write to a missing path takes
			// neither the exchange nor the two renames).
			env := []string{"BERTSERVE_TEST_CRASH_AT=" + tc.point}
			if tc.noExchange {
				env = append(env, "BERTSERVE_TEST_NO_EXCHANGE=1")
			}
			if err := ReplaceDir(path, func(tmp string) error {
				for i := 0; i < 4; i++ {
					os.WriteFile(filepath.Join(tmp, fmt.Sprintf("f%d", i)), []byte("v0 "), 0o644)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			cmd := startHelper(t, "dir", path, env...)
			err := cmd.Wait()
			ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
			if err == nil || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
				t.Fatalf("the helper was not killed at %s: %v", tc.point, err)
			}
			v := checkDir(t, path)
			if v != "v0" && v != "v1" {
				t.Fatalf("version %s after a kill during the first replacement", v)
			}
		})
	}
}

// TestKillAtRandomTimes kills writers of a directory and of a file at
// random moments and checks each time that a whole old or new version is
// there and that the next write cleans up what the killed one left.
func TestKillAtRandomTimes(t *testing.T) {
	if testing.Short() {
		t.Skip("kill tests start helper processes")
	}
	for _, kind := range []string{"dir", "file", "dir-renames"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "out")
			var env []string
			helper := kind
			if kind == "dir-renames" {
				helper, env = "dir", []string{"BERTSERVE_TEST_NO_EXCHANGE=1"}
			}
			versions := map[string]bool{}
			for round := 0; round < 6; round++ {
				cmd := startHelper(t, helper, path, env...)
				time.Sleep(time.Duration(20+rand.IntN(80)) * time.Millisecond)
				cmd.Process.Signal(syscall.SIGKILL)
				cmd.Wait()
				if helper == "dir" {
					if _, err := os.Stat(path); os.IsNotExist(err) && len(versions) == 0 {
						// killed before its first write finished: nothing
						// at path yet, and RepairDir must still clean up
						if err := RepairDir(path); err != nil {
							t.Fatal(err)
						}
						continue
					}
					versions[checkDir(t, path)] = true
					continue
				}
				if _, err := CleanStale(path); err != nil {
					t.Fatal(err)
				}
				b, err := os.ReadFile(path)
				if os.IsNotExist(err) && len(versions) == 0 {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				v, _, _ := strings.Cut(string(b), " ")
				if string(b) != strings.Repeat(v+" ", 50000) {
					t.Fatalf("round %d: the file is partial or mixed (%d bytes)", round, len(b))
				}
				versions[v] = true
				if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*")); len(left) > 0 {
					t.Fatalf("temporaries left after CleanStale: %v", left)
				}
			}
			t.Logf("%s: versions seen after kills: %d", kind, len(versions))
		})
	}
}
