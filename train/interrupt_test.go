package train

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/internal/opkit"
)

// drawState is a run-time state of the kind implicit layers carry (the
// Jacobian penalty's random stream): advanced by every run of the
// training graph, saved by Net.State. failAt, when it is the run about to
// start, cancels the run's context and fails that run, as a solve does
// when it sees a cancellation.
type drawState struct {
	runs   uint64
	failAt uint64
	cancel func()
}

// drawOp adds fresh noise drawn from drawState to its input.
type drawOp struct {
	opkit.Base
	st *drawState
}

func (op *drawOp) DiffWRT(n int) []bool { return []bool{true} }
func (op *drawOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	return G.Nodes{grad}, nil
}
func (op *drawOp) Do(vals ...G.Value) (G.Value, error) {
	op.st.runs++
	if op.st.runs == op.st.failAt {
		op.st.cancel()
		return nil, errors.New("interrupted inside the step")
	}
	rng := rand.New(rand.NewPCG(op.st.runs, 9))
	t := op.Output()
	d, in := t.Data().([]float64), vals[0].Data().([]float64)
	for i := range d {
		d[i] = in[i] + 0.1*rng.NormFloat64()
	}
	return t, nil
}

// noisyModel is linearModel with drawOp on its output in training.
type noisyModel struct {
	*linearModel
	st *drawState
}

func (m *noisyModel) Build(g *G.ExprGraph, batch int, train bool) (*Net, error) {
	net, err := m.linearModel.Build(g, batch, false)
	if err != nil || !train {
		return net, err
	}
	op := &drawOp{Base: opkit.New("Draw", fmt.Sprintf("Draw{%p}", m.st), tensor.Float64, 1, net.Out.Shape()), st: m.st}
	out, err := G.ApplyOp(op, net.Out)
	if err != nil {
		return nil, err
	}
	y, loss, err := mseHead(g, out)
	if err != nil {
		return nil, err
	}
	net.Y, net.Loss, net.Params = y, loss, G.Nodes{g.ByName("W")[0], g.ByName("b")[0]}
	net.State = func() ([]byte, error) { return binary.AppendUvarint(nil, m.st.runs), nil }
	net.SetState = func(b []byte) error {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return errors.New("bad state")
		}
		m.st.runs = v
		return nil
	}
	return net, nil
}

// TestResumeAfterStopInsideStep: a run cancelled inside a step — after
// the step's graph has advanced the model's run-time state, before the
// update — resumes to the uninterrupted run's parameters bit for bit.
// The checkpoint written at the cancellation once read that state live,
// so the resumed run redid the step with the next draw (the Slurm test's
// requeued shard differed from the single process in the model with the
// Jacobian penalty, at the fifth digit of its loss).
func TestResumeAfterStopInsideStep(t *testing.T) {
	data := newBlobs(150, 5, 3, 3)
	cfg := Config{Epochs: 2, BatchSize: 16, Seed: 3, CheckpointEvery: 100, Optimizer: OptimizerConfig{LR: 0.02}}

	full := &noisyModel{linearModel: newLinear(3), st: &drawState{}}
	if _, err := Fit(context.Background(), full, data, cfg); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	c := cfg
	c.Checkpoint = filepath.Join(t.TempDir(), "noisy.ckpt")
	stopped := &noisyModel{linearModel: newLinear(3), st: &drawState{failAt: 13, cancel: cancel}}
	if _, err := Fit(ctx, stopped, data, c); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run returned %v, want context.Canceled", err)
	}
	resumed := &noisyModel{linearModel: newLinear(3), st: &drawState{}}
	c.Resume = true
	if _, err := Fit(context.Background(), resumed, data, c); err != nil {
		t.Fatal(err)
	}
	for k, pair := range [][2]G.Value{{full.w, resumed.w}, {full.b, resumed.b}} {
		a, b := pair[0].Data().([]float64), pair[1].Data().([]float64)
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("parameter %d[%d] differs after resuming: %v resumed, %v uninterrupted", k, i, b[i], a[i])
			}
		}
	}
	if full.st.runs != resumed.st.runs {
		t.Errorf("the state ended at %d draws resumed, %d uninterrupted", resumed.st.runs, full.st.runs)
	}
}
