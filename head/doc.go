// Package head trains, evaluates, saves and serves classification heads
// on frozen sentence embeddings, in pure Go with gonum (never ONNX
// Runtime), so a user with an .npy of embeddings from anywhere can train
// a classifier on a laptop.
//
// # Data
//
// A Dataset is an embedding matrix (float32 rows, see Dataset) with class
// indexes into label names. Labelled text comes from .csv, .tsv or .jsonl
// through ReadLabelled, the one reader of labelled data (files for the
// CLI, uploads for the server), embeddings from an .npy plus a labels
// file through ReadEmbeddings. LabelNames sorts
// integer labels numerically and other labels as strings; give the
// training names to NewDataset for validation and test data so an unseen
// label is an error naming its row. StratifiedSplit makes a seeded
// 80/10/10 (configurable) split that keeps class proportions.
//
// # The pipeline and its configuration
//
// TrainConfig is the one training configuration: the CLI's flags fill it,
// and the server decodes a request's options into it with DecodeConfig
// (JSON) or ConfigFromValues (query string, form fields), strictly
// (unknown keys are errors) and onto the defaults, so an explicit 0 stays
// 0; Validate is its one check. Pipeline runs labelled data through a
// TextEncoder (the seam that cmd/ fills with the encoder), splits,
// trains and evaluates; Trained.Save writes the head with its curves and
// mistakes. `bertserve train` and the server's training jobs both run it.
//
// # Heads and training
//
// Train fits a "softmax" head (multinomial logistic regression) or an
// "mlp" (one or two hidden layers, GELU or ReLU, dropout). (An adapter
// h' = h + (α/r)·B·A·h on the embedding was removed: in front of a head
// whose first layer is linear it is a reparametrisation of that layer and
// adds no capacity; LoRA belongs inside the encoder, TrainTail. Old head
// files with one still load, the adapter folded exactly into the first
// layer: W' = W·(I + (α/r)·B·A).) The softmax
// head is fitted by full-batch L-BFGS (gonum/optimize) with L2 strength
// WeightDecay; everything else by minibatch AdamW with decoupled weight
// decay, linear warm-up then linear or cosine decay, global-norm
// clipping, label smoothing, class weights, and early stopping on
// validation loss or a metric that restores the best weights. The same
// data, config and seed give bit-identical weights: every sum runs in a
// fixed order, whatever the number of cores. Train takes a context for
// cancellation and calls a progress function after every epoch.
//
// # Training inside the encoder
//
// TrainTail trains the head together with the encoder's top N layers on
// hidden states cached below them (Sequences: the real tokens of each
// text only, so attention needs no padding mask). Config "tune": "lora"
// adds LoRA branches (rank lora_rank, scale lora_alpha/lora_rank, dropout
// lora_dropout on the branch input, A Kaiming-uniform, B zero, as PEFT)
// to lora_targets (query, key, value, attention.output, intermediate,
// output) and freezes everything else; "top" unfreezes the layers, with
// layer_lr_decay (the layer j levels below the head at decay^j of lr) and
// unfreeze "gradual" (the top layer in epoch 1, one more each epoch).
// Layers run in internal/nn (post-LN BERT/RoBERTa/DistilBERT layout and
// pre-LN USE-lite layout, exact or tanh GELU or ReLU, BERT's hidden and
// attention-probability dropout): a batch's tokens are packed into one
// [ΣT, H] matrix for the projections and the FFN, attention runs per
// sequence and head. The trained Model holds the merged tail (LoRA
// folded into W), saved as tail.layer.{j}.* in head.safetensors; Tail()
// gives it to models/ for tail.onnx, EmbedSeq runs it in Go. Checks: a
// finite-difference test for every operation and whole layers with LoRA
// (float64), and scripts/tune_reference.py's PyTorch step (loss, every
// trainable gradient, the AdamW update) matched within 2e-6 relative for
// a small BERT (post- and pre-LN) and all-MiniLM-L6-v2's top layer.
//
// # Speed
//
// On two cores of an x86-64 server (AVX2/FMA kernels in internal/nn): an
// epoch of the default MLP over 60,614 × 384 takes about 0.55 s; the
// softmax head fits SST-2-sized data (60,614 × 384, binary) in about
// 0.3 s, three times faster than scikit-learn 1.9's lbfgs and five to
// eight times faster than Debian's scikit-learn 1.2, at the same accuracy
// and log loss. scripts/bench_head.sh reproduces the comparison.
//
// # Evaluation
//
// Evaluate returns a metrics.Metrics (accuracy, macro and weighted F1,
// per-class figures, ROC-AUC, log loss, ECE, confusion matrix);
// ErrorAnalysis lists the most confident mistakes. The training Report
// carries the learning curves (package curve: JSON, PNG) and a
// plain-language diagnosis of the fit.
//
// # Head files
//
// Save writes a directory holding head.safetensors (the tensors, named
// as PyTorch would: out.weight [classes, in], hidden.0.weight, ...) and head.json (Meta: labels, sizes,
// encoder, training config, result, metrics, curves, diagnosis), plus
// the files of SaveOptions (curves, errors, a tail graph), all into one
// temporary directory swapped in at once (encoder/atomicfile): whatever
// the kill point, the directory holds the old head or the new one, and
// Load repairs an interrupted swap first. Load reads it back; Model.CheckEncoder refuses an encoder
// with another digest or dimension unless forced (dimension-compatible
// only). A loaded Model's PredictProba is safe for concurrent use.
package head
