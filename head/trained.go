package head

import (
	"bytes"
	"encoding/json"
	"path/filepath"
)

// Files a trained head's directory holds beside head.json and
// head.safetensors.
const (
	CurvesJSONFile = "curves.json"
	CurvesPNGFile  = "curves.png"
	ErrorsFile     = "errors.jsonl"
)

// Files returns the files Save writes beside the head: the learning
// curves (curves.json, curves.png) and the most confident mistakes
// (errors.jsonl), when there are any.
func (t *Trained) Files(title string) (map[string][]byte, error) {
	files := map[string][]byte{}
	if h := t.Report.Curves; h != nil && len(h.Points) > 0 {
		b, err := json.MarshalIndent(h, "", "  ")
		if err != nil {
			return nil, err
		}
		files[CurvesJSONFile] = append(b, '\n')
		var png bytes.Buffer
		if err := h.PNG(&png, title); err != nil {
			return nil, err
		}
		files[CurvesPNGFile] = png.Bytes()
	}
	if len(t.Mistakes) > 0 {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		for _, mk := range t.Mistakes {
			if err := enc.Encode(mk); err != nil {
				return nil, err
			}
		}
		files[ErrorsFile] = b.Bytes()
	}
	return files, nil
}

// Save writes the head with its curves and mistakes to dir, in one swap
// (Save), plus any further files of extra (a tail graph, ...).
func (t *Trained) Save(dir string, extra ...SaveOptions) error {
	files, err := t.Files("learning curves: " + filepath.Base(filepath.Clean(dir)))
	if err != nil {
		return err
	}
	return Save(dir, t.Model, append([]SaveOptions{{Files: files}}, extra...)...)
}
