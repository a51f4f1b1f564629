package head

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/bertserve/bertserve/encoder/shards"
)

// ReadLabelsFile reads one label per line. Surrounding spaces and a
// trailing CR are dropped, a final empty line is ignored, and any other
// empty line is an error naming it.
func ReadLabelsFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening labels: %w", err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var labels []string
	blank := 0
	for line := 1; ; line++ {
		s, err := br.ReadString('\n')
		if s == "" && err != nil {
			break
		}
		s = strings.TrimSpace(strings.TrimPrefix(s, "\ufeff"))
		if s == "" {
			if blank == 0 {
				blank = line
			}
		} else {
			if blank != 0 {
				return nil, fmt.Errorf("%s: line %d: empty label (one label per line, in the order of the embedding rows)", path, blank)
			}
			labels = append(labels, s)
		}
		if err != nil {
			break
		}
	}
	if len(labels) == 0 {
		return nil, fmt.Errorf("%s: no labels (the file is empty)", path)
	}
	return labels, nil
}

// ReadEmbeddings reads an .npy embedding matrix, or a directory of
// embedding shards (`bertserve embed --output DIR/`, assembled in corpus
// order, see encoder/shards), and a labels file (one label per line, row i
// labels matrix row i) into a Dataset. names is nil for training data, or
// the training label names for validation and test data.
func ReadEmbeddings(npyPath, labelsPath string, names []string) (*Dataset, error) {
	m, err := shards.ReadMatrix(npyPath)
	if err != nil {
		return nil, fmt.Errorf("reading embeddings %s: %w", npyPath, err)
	}
	if m.Rows == 0 {
		return nil, fmt.Errorf("%s: the embedding matrix has no rows", npyPath)
	}
	labels, err := ReadLabelsFile(labelsPath)
	if err != nil {
		return nil, err
	}
	if len(labels) != m.Rows {
		return nil, fmt.Errorf("%s has %d rows but %s has %d labels: the counts must match", npyPath, m.Rows, labelsPath, len(labels))
	}
	x := make([][]float32, m.Rows)
	for i := range x {
		x[i] = m.Row(i)
	}
	d, err := NewDataset(x, labels, names)
	if err != nil {
		var ul *UnknownLabelError
		if errors.As(err, &ul) {
			return nil, fmt.Errorf("%s: line %d: label %q does not occur in the training data (training labels: %s)", labelsPath, ul.Row, ul.Label, quoteList(ul.Known))
		}
		return nil, fmt.Errorf("%s: %w", npyPath, err)
	}
	return d, nil
}
