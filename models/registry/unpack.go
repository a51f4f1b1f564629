package registry

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// maxEntry bounds one unpacked entry, so a corrupt or hostile archive
// cannot fill the disk.
const maxEntry = 1 << 30

// extract copies the archive entries listed in want (entry path →
// sha256) into dst, dropping prefix from their names, and checks every
// digest. It returns the written files by their name under dst.
func extract(archive string, want map[string]string, prefix, dst string) (map[string]string, error) {
	zr, err := zip.OpenReader(archive)
	if err != nil {
		return nil, fmt.Errorf("opening %s as a zip archive: %w (a damaged download? delete it and pull again)", archive, err)
	}
	defer zr.Close()
	byName := map[string]*zip.File{}
	for _, f := range zr.File {
		byName[f.Name] = f
	}
	names := make([]string, 0, len(want))
	for name := range want {
		names = append(names, name)
	}
	sort.Strings(names)
	out := map[string]string{}
	for _, name := range names {
		f, ok := byName[name]
		if !ok {
			return nil, fmt.Errorf("%s has no entry %s", filepath.Base(archive), name)
		}
		rel := strings.TrimPrefix(name, prefix)
		clean := path.Clean(rel)
		if clean != rel || strings.HasPrefix(clean, "../") || path.IsAbs(clean) || clean == "." {
			return nil, fmt.Errorf("%s: entry %q leaves the destination", filepath.Base(archive), name)
		}
		target := filepath.Join(dst, filepath.FromSlash(clean))
		sum, err := extractEntry(f, target)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", filepath.Base(archive), name, err)
		}
		if sum != want[name] {
			return nil, fmt.Errorf("%s: %s has sha256 %s, want %s (a different or damaged package)", filepath.Base(archive), name, sum, want[name])
		}
		out[clean] = target
	}
	return out, nil
}

func extractEntry(f *zip.File, target string) (string, error) {
	if f.UncompressedSize64 > maxEntry {
		return "", fmt.Errorf("%d bytes unpacked, more than the %d allowed", f.UncompressedSize64, maxEntry)
	}
	rc, err := f.Open()
	if err != nil {
		return "", err
	}
	defer rc.Close()
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return "", err
	}
	w, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(rc, maxEntry+1))
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	if n > maxEntry {
		return "", fmt.Errorf("more than %d bytes unpacked", int64(maxEntry))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
