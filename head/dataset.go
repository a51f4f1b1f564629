package head

import (
	"errors"
	"fmt"
	"math"
)

// Dataset is a labelled embedding matrix.
//
// X holds one embedding per row as float32, the precision encoders emit
// and training runs in; rows may alias one contiguous backing array (as
// ReadEmbeddings does) or be separate slices. Y[i] indexes Labels. Texts,
// when set, holds the text of each row for error analysis.
type Dataset struct {
	X      [][]float32
	Y      []int
	Labels []string
	Texts  []string
}

// NewDataset builds a dataset from embeddings and raw labels. With names
// nil the label set comes from the labels themselves (LabelNames); give
// the training names to encode a validation or test set, so a label that
// never occurs in training is an error naming its row.
func NewDataset(x [][]float32, raw []string, names []string) (*Dataset, error) {
	if len(x) != len(raw) {
		return nil, fmt.Errorf("%d embeddings but %d labels: the counts must match", len(x), len(raw))
	}
	if names == nil {
		var err error
		if names, err = LabelNames(raw); err != nil {
			return nil, err
		}
	}
	y, err := EncodeLabels(raw, names)
	if err != nil {
		return nil, err
	}
	d := &Dataset{X: x, Y: y, Labels: append([]string(nil), names...)}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return d, nil
}

// Len returns the number of rows.
func (d *Dataset) Len() int { return len(d.X) }

// Dim returns the embedding width (0 for an empty dataset).
func (d *Dataset) Dim() int {
	if len(d.X) == 0 {
		return 0
	}
	return len(d.X[0])
}

// Validate checks the dataset: rows present, one width, labels in range,
// texts (if any) one per row, and every value finite (a NaN or Inf is an
// error naming the row, 1-based).
func (d *Dataset) Validate() error {
	if d == nil || len(d.X) == 0 {
		return errors.New("the dataset is empty")
	}
	if len(d.Y) != len(d.X) {
		return fmt.Errorf("%d embeddings but %d labels: the counts must match", len(d.X), len(d.Y))
	}
	if d.Texts != nil && len(d.Texts) != len(d.X) {
		return fmt.Errorf("%d embeddings but %d texts", len(d.X), len(d.Texts))
	}
	if len(d.Labels) == 0 {
		return errors.New("the dataset has no label names")
	}
	dim := len(d.X[0])
	if dim == 0 {
		return errors.New("embeddings have width 0")
	}
	for i, row := range d.X {
		if len(row) != dim {
			return fmt.Errorf("row %d has %d values, row 1 has %d", i+1, len(row), dim)
		}
		for j, v := range row {
			if math.Float32bits(v)&0x7f800000 == 0x7f800000 { // NaN or ±Inf: exponent all ones
				return fmt.Errorf("row %d: embedding value %d is %v; re-embed that text or drop the row", i+1, j+1, v)
			}
		}
		if c := d.Y[i]; c < 0 || c >= len(d.Labels) {
			return fmt.Errorf("row %d: class %d outside the %d labels", i+1, c, len(d.Labels))
		}
	}
	return nil
}

// ClassCounts returns the number of rows of each class.
func (d *Dataset) ClassCounts() []int {
	n := make([]int, len(d.Labels))
	for _, c := range d.Y {
		n[c]++
	}
	return n
}

// Subset returns the rows idx as a new dataset sharing row storage.
func (d *Dataset) Subset(idx []int) *Dataset {
	s := &Dataset{X: make([][]float32, len(idx)), Y: make([]int, len(idx)), Labels: d.Labels}
	if d.Texts != nil {
		s.Texts = make([]string, len(idx))
	}
	for k, i := range idx {
		s.X[k], s.Y[k] = d.X[i], d.Y[i]
		if d.Texts != nil {
			s.Texts[k] = d.Texts[i]
		}
	}
	return s
}
