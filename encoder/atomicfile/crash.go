package atomicfile

import (
	"fmt"
	"os"
	"strings"
)

// Crash points, for the kill tests: with BERTSERVE_TEST_CRASH_AT naming
// one (or several, comma-separated), the process kills itself with
// SIGKILL when it gets there, as a power cut or kill -9 would. With
// BERTSERVE_TEST_NO_EXCHANGE=1, ReplaceDir swaps with two renames even
// where an atomic exchange exists, so the points between them are
// reachable. Neither is meant for anything but tests.
const (
	// PointFileWritten: a file's temporary is complete, not yet renamed.
	PointFileWritten = "file-written"
	// PointPartialWritten: a resumable partial output is complete and
	// synced, not yet renamed onto its final name.
	PointPartialWritten = "partial-written"
	// PointDirFilled: a directory's temporary is complete, not yet swapped.
	PointDirFilled = "dir-filled"
	// PointDirExchanged: the new directory is in place, the old one sits
	// under the temporary's name.
	PointDirExchanged = "dir-exchanged"
	// PointDirOldMoved: the old directory was moved aside and nothing is
	// at the destination (two-rename swap only).
	PointDirOldMoved = "dir-old-moved"
	// PointDirNewPlaced: the new directory is in place, the old one not
	// yet removed (two-rename swap only).
	PointDirNewPlaced = "dir-new-placed"
)

var (
	crashAt    = parseCrashAt(os.Getenv("BERTSERVE_TEST_CRASH_AT"))
	noExchange = os.Getenv("BERTSERVE_TEST_NO_EXCHANGE") == "1"
)

func parseCrashAt(s string) map[string]bool {
	if s == "" {
		return nil
	}
	m := map[string]bool{}
	for _, p := range strings.Split(s, ",") {
		m[strings.TrimSpace(p)] = true
	}
	return m
}

// point kills the process at a named crash point when the test asks.
func point(name string) {
	if crashAt[name] {
		fmt.Fprintf(os.Stderr, "atomicfile: crash point %s: killing the process\n", name)
		if p, err := os.FindProcess(os.Getpid()); err == nil {
			p.Kill() // SIGKILL on Unix: no deferred function runs
		}
		select {} // the signal is on its way
	}
}
