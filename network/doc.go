// Package network turns a model written with package layers into a
// train.Model: the value the training loop, the evaluators, the test-time
// curves and the reports work with.
//
// A Spec names the model, gives the per-sample shapes of its inputs and
// targets, a Body that builds the output from the input node in a
// layers.Scope, and a Loss (a Go function; CrossEntropy when nil). New
// checks it and returns a *Network. The loop builds the network once per
// graph — the training graph, an inference graph, other batch sizes —
// and every build after the first shares the parameters of the first, so
// what training changes is seen by every graph.
//
// Models that must share parameters although their bodies differ — a
// model and its view at another input length, the phases of a schedule
// that unrolls a cell 3 and then 6 times, a float32 model and the readout
// of its state at t = 0 — are made with Sharing.
//
// For implicit layers the Net a Network builds carries the controls the
// loop and the evaluators need: the test-time iteration count, the solve
// statistics, per-sample warm starts, the spectral radius of J_f(z*) and
// the Jacobian penalty, which is added to the loss.
package network
