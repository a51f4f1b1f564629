// Package curve records learning curves (per-epoch, or per-iteration for
// L-BFGS, training and validation loss and metric), writes them as JSON
// and as a PNG drawn with gonum.org/v1/plot, and reads them in plain
// language: under-fitting, a good fit, or over-fitting from epoch N, each
// with what to try next.
//
// The losses on the curves are the training objective (cross-entropy
// with any label smoothing and class weights, without the weight-decay
// term), computed the same way for the training and validation sets so
// the two lines can be compared.
package curve
