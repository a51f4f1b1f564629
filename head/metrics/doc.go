// Package metrics scores a classifier's predicted probabilities against
// true labels: accuracy, macro and weighted F1, per-class precision,
// recall, F1 and support, ROC-AUC (binary, or one-vs-rest macro for more
// classes), log loss, expected calibration error and the confusion
// matrix.
//
// Definitions follow scikit-learn so numbers can be compared directly:
// F1 of a class with no predictions is 0; macro averages run over the
// classes that occur in the truth or the predictions; log loss clips
// probabilities to [1e-15, 1-1e-15]; the multi-class AUC is the
// unweighted mean of one-vs-rest AUCs (classes without positives or
// negatives are skipped). ECE uses 15 equal-width bins of the top
// probability. Ties in the predicted class go to the lowest index.
//
// A Metrics value marshals to JSON (AUC is null when undefined) and
// WriteTable prints it as a plain-text report.
package metrics
