package attention

import (
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/internal/layertest"
	"github.com/implicit-ml/implicit/internal/memtest"
	"github.com/implicit-ml/implicit/layers"
)

// rdSizes are the shapes of a recurrent-depth training step: batch
// sequences of seq tokens from vocab, width dim in heads heads, a core of
// two sandwich blocks with gated MLPs of 2·dim.
type rdSizes struct {
	dt                            tensor.Dtype
	batch, seq, vocab, dim, heads int
}

// The recurrent workload's step (train/experiments/recurrent.go: 21-token
// programs over 38 tokens, width 64, 4 heads, batch 32, float32) and a
// small float64 one.
var (
	rdWorkload = rdSizes{tensor.Float32, 32, 21, 38, 64, 4}
	rdSmall    = rdSizes{tensor.Float64, 8, 8, tsV, 16, 2}
)

// rdStep is a training step of the recurrent-depth transformer iterating
// its core r times, loss the cross-entropy of the logits against random
// next tokens. Implicit: the workload's truncated backpropagation through
// the last 2 iterations (the first r−2 run in the implicit layer's op);
// otherwise its unrolled twin, which backpropagates through all r.
func rdStep(sz rdSizes, implicit bool) func(r int) memtest.Build {
	return func(r int) memtest.Build {
		return func(g *G.ExprGraph) (*G.Node, G.Nodes, error) {
			rng := rand.New(rand.NewPCG(11, 12))
			s := layers.NewScope(g, sz.dt, rng)
			k := r
			if implicit {
				k = 2
			}
			m := NewRecurrentDepth(s, "rd", RecurrentConfig{
				Vocab:   sz.vocab,
				Core:    CoreConfig{Block: BlockConfig{Dim: sz.dim, Heads: sz.heads, SeqLen: sz.seq, Hidden: 2 * sz.dim, Gated: true, Sandwich: true}, Layers: 2},
				Prelude: 1, Coda: 1, Positions: true, Backprop: k,
			})
			if err := m.SetRecurrence(r); err != nil {
				return nil, nil, err
			}
			logits, err := m.Fwd(idsNode(g, sz.dt, rng, sz.batch, sz.seq, sz.vocab))
			if err != nil {
				return nil, nil, err
			}
			loss, err := layers.SoftmaxCrossEntropy(logits, layertest.OneHot(g, sz.dt, rng, sz.batch*sz.seq, sz.vocab))
			return loss, s.Params(), err
		}
	}
}

// TestRecurrentTrainingMemoryIsFlatInIterations: the bytes a training
// step of the recurrent-depth transformer holds are the same at r = 5 and
// r = 100 core iterations, where the fully backpropagated twin's grow.
func TestRecurrentTrainingMemoryIsFlatInIterations(t *testing.T) {
	memtest.Check(t, 5, 100, rdStep(rdSmall, true), rdStep(rdSmall, false))
}

// BenchmarkRecurrentStepMemory: the bytes a training step of the
// recurrent workload's model holds (held-B) at r = 5 and 40, and its
// fully backpropagated twin's at K = 5 and 40.
func BenchmarkRecurrentStepMemory(b *testing.B) {
	memtest.Benchmark(b, []int{5, 40}, rdStep(rdWorkload, true), rdStep(rdWorkload, false))
}
