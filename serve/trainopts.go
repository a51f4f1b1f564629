package serve

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// TrainOptions are a training job's options, read from the query string,
// multipart form fields, or the JSON body. Zero values mean "the trainer's
// default".
type TrainOptions struct {
	// Head is softmax (default) or mlp.
	Head   string `json:"head,omitempty"`
	Hidden int    `json:"hidden,omitempty"`
	Epochs int    `json:"epochs,omitempty"`
	// LearningRate is the peak learning rate ("lr").
	LearningRate   float64 `json:"lr,omitempty"`
	BatchSize      int     `json:"batch_size,omitempty"`
	WeightDecay    float64 `json:"weight_decay,omitempty"`
	Dropout        float64 `json:"dropout,omitempty"`
	LabelSmoothing float64 `json:"label_smoothing,omitempty"`
	// ValFraction of the examples is held out, stratified, for validation
	// curves and early stopping.
	ValFraction float64 `json:"val_fraction,omitempty"`
	Patience    int     `json:"patience,omitempty"`
	// ClassWeight is "" or "balanced".
	ClassWeight string `json:"class_weight,omitempty"`
	Seed        int64  `json:"seed,omitempty"`
	// Normalize trains (and later classifies) on L2-normalised embeddings.
	Normalize bool `json:"normalize,omitempty"`
	// TextCol and LabelCol name the upload's columns or keys.
	TextCol  string `json:"text_col,omitempty"`
	LabelCol string `json:"label_col,omitempty"`
}

// trainOptionNames are the keys parseTrainOptions accepts.
var trainOptionNames = []string{"batch_size", "class_weight", "dropout", "epochs", "head", "hidden",
	"label_col", "label_smoothing", "learning_rate", "lr", "normalize", "patience", "seed", "text_col", "val_fraction", "weight_decay"}

// parseTrainOptions reads options from string values (query or form). An
// unknown key is an error, so a typo does not silently train with defaults.
func parseTrainOptions(values map[string]string) (TrainOptions, error) {
	var o TrainOptions
	for k, v := range values {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		var err error
		switch k {
		case "head":
			o.Head = v
		case "hidden":
			o.Hidden, err = strconv.Atoi(v)
		case "epochs":
			o.Epochs, err = strconv.Atoi(v)
		case "lr", "learning_rate":
			o.LearningRate, err = strconv.ParseFloat(v, 64)
		case "batch_size":
			o.BatchSize, err = strconv.Atoi(v)
		case "weight_decay":
			o.WeightDecay, err = strconv.ParseFloat(v, 64)
		case "dropout":
			o.Dropout, err = strconv.ParseFloat(v, 64)
		case "label_smoothing":
			o.LabelSmoothing, err = strconv.ParseFloat(v, 64)
		case "val_fraction":
			o.ValFraction, err = strconv.ParseFloat(v, 64)
		case "patience":
			o.Patience, err = strconv.Atoi(v)
		case "class_weight":
			o.ClassWeight = v
		case "seed":
			o.Seed, err = strconv.ParseInt(v, 10, 64)
		case "normalize":
			o.Normalize, err = strconv.ParseBool(v)
		case "text_col":
			o.TextCol = v
		case "label_col":
			o.LabelCol = v
		default:
			return o, fmt.Errorf("unknown training option %q; known: %s", k, strings.Join(trainOptionNames, ", "))
		}
		if err != nil {
			return o, fmt.Errorf("training option %s=%q: %v", k, v, err)
		}
	}
	return o, o.validate()
}

func (o TrainOptions) validate() error {
	check := func(ok bool, format string, args ...any) error {
		if ok {
			return nil
		}
		return fmt.Errorf(format, args...)
	}
	for _, err := range []error{
		check(slices.Contains([]string{"", "softmax", "mlp"}, o.Head), "head must be softmax or mlp, got %q", o.Head),
		check(o.Hidden >= 0 && o.Hidden <= 65536, "hidden must be in 0..65536, got %d", o.Hidden),
		check(o.Epochs >= 0 && o.Epochs <= 10000, "epochs must be in 0..10000, got %d", o.Epochs),
		check(o.LearningRate >= 0 && o.LearningRate <= 10, "lr must be in [0, 10], got %g", o.LearningRate),
		check(o.BatchSize >= 0 && o.BatchSize <= 1<<20, "batch_size must be in 0..1048576, got %d", o.BatchSize),
		check(o.WeightDecay >= 0 && o.WeightDecay <= 10, "weight_decay must be in [0, 10], got %g", o.WeightDecay),
		check(o.Dropout >= 0 && o.Dropout < 1, "dropout must be in [0, 1), got %g", o.Dropout),
		check(o.LabelSmoothing >= 0 && o.LabelSmoothing < 1, "label_smoothing must be in [0, 1), got %g", o.LabelSmoothing),
		check(o.ValFraction >= 0 && o.ValFraction <= 0.5, "val_fraction must be in [0, 0.5], got %g", o.ValFraction),
		check(o.Patience >= 0, "patience must be >= 0, got %d", o.Patience),
		check(o.ClassWeight == "" || o.ClassWeight == "balanced", "class_weight must be empty or balanced, got %q", o.ClassWeight),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}
