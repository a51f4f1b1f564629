package shards

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Set is a checked shard directory: N complete manifests that agree.
type Set struct {
	Dir       string
	Shards    int
	Manifests []*Manifest // by shard index
	// Rows and Dim are the merged matrix's shape.
	Rows, Dim int
}

// Problem is one shard that stops a directory from merging.
type Problem struct {
	Shard  int    // -1 for the directory as a whole
	File   string // the file concerned
	Reason string
}

// CheckError lists every problem of a shard directory.
type CheckError struct {
	Dir      string
	Shards   int
	Problems []Problem
}

func (e *CheckError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d of %d shards cannot be merged:", e.Dir, countShards(e.Problems), e.Shards)
	for _, p := range e.Problems {
		fmt.Fprintf(&b, "\n  %s: %s", p.File, p.Reason)
	}
	return b.String()
}

func countShards(ps []Problem) int {
	seen := map[int]bool{}
	for _, p := range ps {
		seen[p.Shard] = true
	}
	return len(seen)
}

// shardCount finds N from the part files in dir; several different
// counts are an error naming them.
func shardCount(dir string) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	counts := map[int][]string{}
	for _, e := range entries {
		if _, n, ok := ParseName(e.Name()); ok {
			counts[n] = append(counts[n], e.Name())
		}
	}
	switch len(counts) {
	case 0:
		return 0, fmt.Errorf("%s holds no shards (part-0000I-of-0000N.npy + .json files, written by `bertserve embed --shard I/N --output %s/`)", dir, filepath.Base(dir))
	case 1:
		for n := range counts {
			return n, nil
		}
	}
	var desc []string
	for n, names := range counts {
		desc = append(desc, fmt.Sprintf("%d files of %d shards (e.g. %s)", len(names), n, names[0]))
	}
	sort.Strings(desc)
	return 0, fmt.Errorf("%s mixes shardings: %s; keep one run per directory", dir, strings.Join(desc, ", "))
}

// Check reads every manifest of the shard directory dir and checks that
// they are complete, agree, fit one corpus and describe the data files
// present (by size; Merge and Verify also check the sha256). The error is
// a *CheckError naming each shard at fault.
func Check(dir string) (*Set, error) {
	n, err := shardCount(dir)
	if err != nil {
		return nil, err
	}
	set := &Set{Dir: dir, Shards: n, Manifests: make([]*Manifest, n)}
	cerr := &CheckError{Dir: dir, Shards: n}
	add := func(i int, file, format string, args ...any) {
		cerr.Problems = append(cerr.Problems, Problem{Shard: i, File: file, Reason: fmt.Sprintf(format, args...)})
	}
	for i := range n {
		m, err := ReadManifest(dir, i, n)
		switch {
		case errors.Is(err, ErrNoManifest):
			if _, serr := os.Stat(filepath.Join(dir, Name(i, n))); serr == nil {
				add(i, Name(i, n), "no manifest (the worker stopped before finishing); rerun index %d", i)
			} else {
				add(i, Name(i, n), "missing; run index %d (JOB_COMPLETION_INDEX=%d)", i, i)
			}
			continue
		case err != nil:
			add(i, ManifestName(i, n), "%v", err)
			continue
		case !m.Complete:
			add(i, ManifestName(i, n), "not complete; rerun index %d", i)
			continue
		}
		st, err := os.Stat(filepath.Join(dir, m.File))
		if err != nil {
			add(i, m.File, "the data file is missing (%v); rerun index %d", err, i)
			continue
		}
		if st.Size() != m.Bytes {
			add(i, m.File, "%d bytes, the manifest says %d (damaged or replaced); rerun index %d", st.Size(), m.Bytes, i)
			continue
		}
		set.Manifests[i] = m
	}
	// Agreement: every shard against the first good one.
	var ref *Manifest
	for _, m := range set.Manifests {
		if m != nil {
			ref = m
			break
		}
	}
	if ref != nil {
		for i, m := range set.Manifests {
			if m == nil {
				continue
			}
			if d := differences(ref, m); d != "" {
				add(i, Name(i, n), "made differently from %s: %s", Name(ref.Shard, n), d)
				continue
			}
			if want := ShardRows(m.Input.Rows, i, n); m.Rows != want {
				add(i, Name(i, n), "%d rows, but shard %d of a %d-row corpus has %d", m.Rows, i, m.Input.Rows, want)
				continue
			}
			set.Rows += m.Rows
		}
		set.Dim = ref.Dim
	}
	if len(cerr.Problems) > 0 {
		return nil, cerr
	}
	return set, nil
}

// differences says how b was made differently from a ("" when alike).
func differences(a, b *Manifest) string {
	var d []string
	diff := func(name string, x, y any) {
		if x != y {
			d = append(d, fmt.Sprintf("%s %v vs %v", name, y, x))
		}
	}
	diff("model digest", a.ModelDigest, b.ModelDigest)
	diff("pooling", a.Pooling, b.Pooling)
	diff("normalize", a.Normalize, b.Normalize)
	diff("max length", a.MaxLength, b.MaxLength)
	diff("dim", a.Dim, b.Dim)
	diff("input sha256", a.Input.SHA256, b.Input.SHA256)
	diff("input rows", a.Input.Rows, b.Input.Rows)
	if len(d) == 0 && a.OptionsDigest != b.OptionsDigest {
		d = append(d, fmt.Sprintf("options digest %s vs %s (batching, device, text column or output options)", short(b.OptionsDigest), short(a.OptionsDigest)))
	}
	return strings.Join(d, ", ")
}

func short(digest string) string {
	if len(digest) > 12 {
		return digest[:12]
	}
	return digest
}
