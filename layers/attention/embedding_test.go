package attention

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/internal/layertest"
	"github.com/implicit-ml/implicit/layers"
)

// The vocabulary of the embedding tests: larger than B·T would make some
// rows unused (their gradient must be zero), smaller makes ids repeat
// (their gradients must add up). 7 < B·T = 10 does both.
const tsV = 7

// TestEmbeddingLooksUp: row b·T + t of the output is the table row of
// token (b, t).
func TestEmbeddingLooksUp(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 11))
	g := G.NewGraph()
	s := layers.NewScope(g, tensor.Float64, rng)
	e := NewEmbedding(s, "emb", tsV, tsD)
	ids := idsNode(g, tensor.Float64, rng, tsB, tsT, tsV)
	y, err := e.Fwd(ids)
	if err != nil {
		t.Fatal(err)
	}
	got := run(t, y)
	w, id := e.W.Value().Data().([]float64), ids.Value().Data().([]float64)
	want := make([]float64, 0, len(got))
	for _, v := range id {
		want = append(want, w[int(v)*tsD:(int(v)+1)*tsD]...)
	}
	layertest.Compare(t, "embedding", got, want)
}

// TestEmbeddingGradients: the table's gradient (repeated ids add up,
// unused rows are zero) and the position table's, against central
// differences.
func TestEmbeddingGradients(t *testing.T) {
	reps := layertest.CheckGrads(t, gradTol, func(g *G.ExprGraph) (*G.Node, G.Nodes, error) {
		rng := rand.New(rand.NewPCG(12, 12))
		s := layers.NewScope(g, tensor.Float64, rng)
		model := layers.Sequential{NewEmbedding(s, "emb", tsV, tsD), NewPositionEmbedding(s, "pos", tsT, tsD)}
		y, err := model.Fwd(idsNode(g, tensor.Float64, rng, tsB, tsT, tsV))
		if err != nil {
			return nil, nil, err
		}
		loss, err := mseTo(g, rng, y)
		return loss, model.Params(), err
	})
	// At least one row of the table is unused at this seed, and its
	// gradient is exactly zero.
	zeroRows := 0
	for r := range tsV {
		zero := true
		for _, v := range reps[0].Analytic[r*tsD : (r+1)*tsD] {
			zero = zero && v == 0
		}
		if zero {
			zeroRows++
		}
	}
	if zeroRows == 0 || zeroRows == tsV {
		t.Errorf("%d of %d table rows have a zero gradient; the test's ids should leave some but not all unused", zeroRows, tsV)
	}
}

// TestEmbeddingBadIDs: ids that are not integers in [0, V) are an error
// of the run, never a panic, in both precisions.
func TestEmbeddingBadIDs(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		for _, bad := range []float64{tsV, -1, 2.5, math.NaN(), math.Inf(1)} {
			rng := rand.New(rand.NewPCG(13, 13))
			g := G.NewGraph()
			s := layers.NewScope(g, dt, rng)
			ids := idsNode(g, dt, rng, tsB, tsT, tsV)
			setID(ids, 3, bad)
			if _, err := NewEmbedding(s, "emb", tsV, tsD).Fwd(ids); err != nil {
				t.Fatal(err)
			}
			vm := G.NewTapeMachine(g)
			err := vm.RunAll()
			vm.Close()
			if err == nil || !strings.Contains(err.Error(), "not an integer in [0, 7)") {
				t.Errorf("%v id %v: error %v", dt, bad, err)
			}
		}
	}
	// Ids of another dtype than the table are refused when the graph is
	// built.
	g := G.NewGraph()
	s := layers.NewScope(g, tensor.Float32, rand.New(rand.NewPCG(13, 13)))
	if _, err := NewEmbedding(s, "emb", tsV, tsD).Fwd(idsNode(g, tensor.Float64, rand.New(rand.NewPCG(13, 13)), 2, 3, tsV)); err == nil {
		t.Error("float64 ids into a float32 table: no error")
	}
}
