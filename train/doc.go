// Package train trains and evaluates models and writes the comparison
// reports every experiment shares. It knows no concrete model or dataset:
// it sees them through two small interfaces, Model (builds a network in a
// Gorgonia graph at a batch size, sharing parameters between graphs) and
// Dataset (samples as flat float32 slices).
//
// # The loop
//
// Fit trains a model with Gorgonia-compatible optimizers (Adam, SGD with
// momentum; their state is checkpointable), learning-rate schedules
// (constant, step, cosine) and global-norm gradient clipping, in seeded
// order with fixed-size batches (the last partial batch is padded and
// masked, never dropped). Hooks run per step, per epoch and at the end;
// Validation and EarlyStopping are hooks. Checkpoints hold parameters,
// optimizer state, data position and a configuration fingerprint; they are
// written atomically (temp file, fsync, rename) with a checksum, and Resume
// continues exactly: the same loss curve as an uninterrupted run. A corrupt
// or mismatched checkpoint is an error, never overwritten.
//
// Fit also watches the implicit layers' solves: it logs the fraction of
// samples whose forward or backward solve missed its tolerance, optionally
// the spectral radius of J_f(z*) per epoch, and can stop with an error when
// too many solves fail (Config.MaxNotConverged) or skip steps whose
// backward solve did not converge. Metrics go to metrics.jsonl; progress
// is a bar on a terminal and a line every few seconds otherwise.
//
// # Evaluation
//
// An Evaluator runs a separate inference graph (no backward pass) sharing
// the trained parameters. SetIterations fixes the test-time iteration
// count t of the implicit layers (t iterations from z₀ = 0; 0 solves), so
// Curve gives the metric and the empirical Lipschitz constant L_t of the
// model's map against t, measured on a Probe (inputs and perturbations).
//
// # Reports
//
// Report is the report.json every experiment writes (field names are a
// contract: fields may be added, never renamed); WriteMarkdown renders the
// side-by-side table and curves, WritePlots and LinePlot draw the PNG
// figures with gonum/plot.
package train
