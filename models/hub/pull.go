package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// puller carries one Pull's settings and state.
type puller struct {
	resolved
	repo         string
	endpointHost string
	progress     *progress
	follow       *http.Client // follows redirects, never carrying the token off the first host
	noFollow     *http.Client // returns 3xx answers (HEADs)
}

// Pull downloads repo from the Hugging Face hub and turns it into a
// bertserve model directory, returning that directory's path.
//
// A repository with an ONNX export (onnx/model.onnx) is used as it is,
// with its tokenizer, config and sentence-transformers pooling files; one
// without is downloaded as config.json + safetensors weights (one file or
// shards with their index) + tokenizer and converted by models.ImportHF.
// Repositories that only have pickled weights (pytorch_model.bin) are
// refused with ErrUnsupported.
//
// Every file is fetched at the commit the revision resolves to, into a
// staging folder next to the destination; interrupted transfers resume
// with HTTP Range requests, and each file is checked against the sha256
// (LFS) or git blob sha1 the hub announces. The finished directory
// replaces opts.Dir in one rename, so a failed pull never leaves a
// half-written model under that name and a previous model stays usable
// until the new one is complete. When a pull fails on the network, the
// staging folder is kept and running Pull again resumes it.
func Pull(ctx context.Context, repo string, opts Options) (string, error) {
	if err := ValidateRepo(repo); err != nil {
		return "", err
	}
	r, err := opts.resolve(repo)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(r.endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("hub endpoint %q is not an http(s) URL: fix HF_ENDPOINT or --endpoint", r.endpoint)
	}
	p := &puller{resolved: r, repo: repo, endpointHost: u.Host, progress: newProgress(r.Progress)}
	p.initClients()
	dir, err := filepath.Abs(r.Dir)
	if err != nil {
		return "", err
	}
	if err := checkReplaceable(dir); err != nil {
		return "", err
	}
	if err := p.pull(ctx, dir); err != nil {
		return "", fmt.Errorf("pulling %s: %w", repo, err)
	}
	return dir, nil
}

func (p *puller) pull(ctx context.Context, dir string) error {
	info, err := p.fetchInfo(ctx)
	if err != nil {
		return err
	}
	commit := info.SHA
	if commit == "" {
		commit = p.Revision // a mirror that does not report the commit
	}
	files := info.files()
	pl, err := makePlan(p.repo, files)
	if err != nil {
		return err
	}
	parent, base := filepath.Dir(dir), filepath.Base(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", parent, err)
	}
	stage := filepath.Join(parent, "."+base+".download-"+safeName(commit))
	p.progress.note("pulling %s at %s (commit %s) from %s", p.repo, p.Revision, shortSHA(commit), p.endpoint)
	ok := false
	keepStage := false
	defer func() {
		if !ok && !keepStage {
			os.RemoveAll(stage)
		}
	}()
	download := func(paths []string) error {
		for _, path := range paths {
			if err := p.download(ctx, commit, path, filepath.Join(stage, filepath.FromSlash(path))); err != nil {
				// A broken connection, a rate limit or a captive portal
				// is worth resuming later; a refusal or a bad checksum
				// is not.
				keepStage = !errors.Is(err, ErrChecksum) && !errors.Is(err, ErrUnauthorized) &&
					!errors.Is(err, ErrNotFound) && !errors.Is(err, ErrDisabled)
				if keepStage && hasFiles(stage) {
					if strings.Contains(err.Error(), "run the same command again") {
						err = fmt.Errorf("%w (the partial download is kept in %s)", err, stage)
					} else {
						err = fmt.Errorf("%w (the partial download is kept in %s: run the same command again to resume)", err, stage)
					}
				}
				return err
			}
		}
		return nil
	}
	if err := download(pl.files); err != nil {
		return err
	}
	extra, err := moduleConfigs(stage, files, pl.files)
	if err != nil {
		return err
	}
	if err := download(extra); err != nil {
		return err
	}
	pl.files = append(pl.files, extra...)
	if pl.index != "" {
		shards, err := shardsFromIndex(filepath.Join(stage, pl.index), files)
		if err != nil {
			return err
		}
		if err := download(shards); err != nil {
			return err
		}
	}
	out, err := os.MkdirTemp(parent, "."+base+".new-*")
	if err != nil {
		return err
	}
	if err := os.Chmod(out, 0o755); err != nil { // MkdirTemp makes it private
		os.RemoveAll(out)
		return err
	}
	defer func() {
		if !ok {
			os.RemoveAll(out)
		}
	}()
	src := source{Repo: p.repo, Revision: p.Revision, Commit: commit, Endpoint: p.endpoint, License: info.license()}
	switch pl.route {
	case routeONNX:
		err = p.importONNX(stage, out, pl, src)
	default:
		p.progress.note("converting the safetensors weights to ONNX")
		err = p.importHF(stage, out, src)
	}
	if err != nil {
		return err
	}
	if err := replaceDir(out, dir); err != nil {
		return err
	}
	ok = true
	if err := os.RemoveAll(stage); err != nil {
		slog.Warn("could not remove the download staging folder", "dir", stage, "err", err)
	}
	p.progress.note("model ready in %s", dir)
	return nil
}

// download stats and fetches one repo file at commit into dst.
func (p *puller) download(ctx context.Context, commit, path, dst string) error {
	f, err := p.stat(ctx, commit, path)
	if err != nil {
		return fmt.Errorf("looking up %s: %w", path, err)
	}
	if err := p.fetch(ctx, f, dst); err != nil {
		return fmt.Errorf("downloading %s: %w", path, err)
	}
	return nil
}

// hasFiles reports whether dir holds any file (a partial download worth
// keeping).
func hasFiles(dir string) bool {
	found := false
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			found = true
			return filepath.SkipAll
		}
		return nil
	})
	return found
}

// safeName keeps a revision usable as part of a file name.
func safeName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, s)
	if len(s) > 40 {
		s = s[:40]
	}
	return s
}

func shortSHA(s string) string {
	if sha1Pattern.MatchString(s) {
		return s[:12]
	}
	return s
}
