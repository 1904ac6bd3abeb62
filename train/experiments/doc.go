// Package experiments holds the workloads: each wires concrete layers,
// datasets and the training loop into a comparison of explicit and
// implicit models, and writes report.json, report.md, PNG plots,
// metrics.jsonl and curves.csv. cmd/train and the notebooks call Run.
//
//	classify  MNIST / Fashion-MNIST: MLP vs implicit DEQ vs its unrolled twin
//	toy       the paper's 1-D target with poles: bounded MLPs vs regular operators
//	reason    prefix parity: a looped cell that extrapolates by iterating longer
//	lp        LP solutions: explicit vs implicit bipartite GNNs (the paper's case study 3)
//	pde       Darcy flow: implicit vs explicit Fourier neural operators (case study 2)
//	deblur    image deblurring: implicit plug-and-play PGD vs explicit CNNs (case study 1)
//	ablation  every forward solver × gradient mode, with and without Jacobian regularisation
//
// Every experiment honours Options (the command line's flags; zero values
// mean the experiment's defaults) and has a Quick configuration that runs
// in under two minutes on two cores, which the test suite runs.
//
// NewNetwork turns a model written with package layers into a
// train.Model, the way the experiments build theirs: a user's own model
// gets the same training loop, evaluators and curves.
package experiments
