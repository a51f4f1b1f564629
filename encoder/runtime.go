package encoder

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// ORTVersion is the ONNX Runtime release that scripts/setup.sh installs and
// that github.com/yalue/onnxruntime_go's C headers were written against.
const ORTVersion = "1.24.1"

// CacheDir is where setup puts downloaded artifacts: $BERTSERVE_CACHE, else
// $XDG_CACHE_HOME/bertserve, else ~/.cache/bertserve. It matches
// scripts/setup.sh.
func CacheDir() string {
	if d := os.Getenv("BERTSERVE_CACHE"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "bertserve")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".cache", "bertserve")
	}
	return filepath.Join(os.TempDir(), "bertserve-cache")
}

// ErrNoRuntime is returned (wrapped) when the ONNX Runtime shared library
// cannot be found.
var ErrNoRuntime = errors.New("ONNX Runtime shared library not found")

// FindLibrary locates the ONNX Runtime shared library: the explicit path
// (a --ort-lib flag) first, then $ONNXRUNTIME_LIB, then the path that
// scripts/setup.sh writes in the cache.
func FindLibrary(explicit string) (string, error) {
	type cand struct{ path, from string }
	cands := []cand{
		{explicit, "--ort-lib"},
		{os.Getenv("ONNXRUNTIME_LIB"), "ONNXRUNTIME_LIB"},
		{filepath.Join(CacheDir(), "onnxruntime", ORTVersion, "libonnxruntime.so.1"), "the setup cache"},
	}
	for _, c := range cands {
		if c.path == "" {
			continue
		}
		if _, err := os.Stat(c.path); err != nil {
			if c.from == "the setup cache" {
				break
			}
			return "", fmt.Errorf("%w: %s points to %s: %v", ErrNoRuntime, c.from, c.path, err)
		}
		return c.path, nil
	}
	return "", fmt.Errorf("%w: run `make setup` (scripts/setup.sh) to install ONNX Runtime %s from npm, or set ONNXRUNTIME_LIB to a libonnxruntime.so", ErrNoRuntime, ORTVersion)
}

var (
	initMu   sync.Mutex
	initPath string
)

// InitRuntime loads the ONNX Runtime library once per process. Later calls
// with the same (or an empty) path are no-ops; a different path is an
// error, since ONNX Runtime has one global environment per process.
func InitRuntime(libPath string) error {
	initMu.Lock()
	defer initMu.Unlock()
	if initPath != "" {
		if libPath != "" && libPath != initPath {
			lp, _ := filepath.Abs(libPath)
			ip, _ := filepath.Abs(initPath)
			if lp != ip {
				return fmt.Errorf("ONNX Runtime already loaded from %s; cannot switch to %s in one process", initPath, libPath)
			}
		}
		return nil
	}
	path, err := FindLibrary(libPath)
	if err != nil {
		return err
	}
	ort.SetSharedLibraryPath(path)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return fmt.Errorf("loading ONNX Runtime from %s: %w (it must be version %s; run `make setup`)", path, err, ORTVersion)
	}
	initPath = path
	return nil
}
