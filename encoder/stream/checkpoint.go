package stream

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/bertserve/bertserve/encoder/atomicfile"
)

// checkpointFormat names the checkpoint manifest format.
const checkpointFormat = "bertserve-embed-checkpoint/1"

// position is where reading continues: just past corpus row Rows-1, at
// byte Offset, after line Line.
type position struct {
	Offset int64 `json:"offset"`
	Line   int   `json:"line"`
	Rows   int   `json:"rows"`
}

// checkpointInput identifies the input and the place in it.
type checkpointInput struct {
	Path string `json:"path"`
	position
	// PrefixSHA256 is the sha256 of the input's first Offset bytes.
	PrefixSHA256 string `json:"prefix_sha256"`
}

// totals are the running counters of a run, kept across resumes.
type totals struct {
	Tokens       int64 `json:"tokens"`
	Truncated    int   `json:"truncated"`
	InvalidUTF8  int   `json:"invalid_utf8"`
	PaddedTokens int64 `json:"padded_tokens"`
}

func (t *totals) add(o totals) {
	t.Tokens += o.Tokens
	t.Truncated += o.Truncated
	t.InvalidUTF8 += o.InvalidUTF8
	t.PaddedTokens += o.PaddedTokens
}

// checkpoint is the manifest beside a partial output. It is written only
// after the rows it claims are synced to disk, and atomically, so it
// never claims rows the partial data lacks; rows written after it are cut
// off when the run resumes.
type checkpoint struct {
	Format        string          `json:"format"`
	Output        string          `json:"output"`
	Shard         int             `json:"shard"`
	Options       Options         `json:"options"`
	OptionsDigest string          `json:"options_digest"`
	Input         checkpointInput `json:"input"`
	Rows          int             `json:"rows"`
	OutputBytes   int64           `json:"output_bytes"`
	Totals        totals          `json:"totals"`
	Updated       time.Time       `json:"updated"`
	PID           int             `json:"pid"`
}

func writeCheckpoint(output string, cp *checkpoint) error {
	cp.Format, cp.Updated, cp.PID = checkpointFormat, time.Now().UTC(), os.Getpid()
	b, err := json.MarshalIndent(cp, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteBytes(atomicfile.PartialManifestPath(output), append(b, '\n')); err != nil {
		return fmt.Errorf("writing the checkpoint: %w", err)
	}
	return atomicfile.SyncDir(filepath.Dir(output))
}

// readCheckpoint returns the checkpoint of output's partial data, or nil
// when there is none.
func readCheckpoint(output string) (*checkpoint, error) {
	path := atomicfile.PartialManifestPath(output)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var cp checkpoint
	if err := json.Unmarshal(b, &cp); err != nil || cp.Format != checkpointFormat {
		return nil, fmt.Errorf("%s is not a checkpoint of this version of bertserve (%v); delete it, or pass --resume=false to start over", path, err)
	}
	return &cp, nil
}
