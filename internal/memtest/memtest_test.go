package memtest

import (
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestHeldMeasuresWhatIsKept: a kept 4 MiB buffer is measured to within
// 64 KiB; a buffer of the same size allocated and dropped is not.
func TestHeldMeasuresWhatIsKept(t *testing.T) {
	const n, slack = 4 << 20, 64 << 10
	kept, err := Held(func() (any, error) {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i)
		}
		return b, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	dropped, err := Held(func() (any, error) {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i)
		}
		return len(b), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kept %.0f bytes, dropped %.0f", kept, dropped)
	if kept < n || kept > n+slack {
		t.Errorf("a kept %d-byte buffer measured %.0f bytes", n, kept)
	}
	if dropped > slack {
		t.Errorf("a dropped %d-byte buffer measured %.0f bytes held", n, dropped)
	}
}

// chain is a training step of k weight-tied tanh layers z ← tanh(z·W) on
// a 64×128 input, loss Σz: every layer in the graph keeps its values for
// the backward pass, so the held bytes grow with k.
func chain(k int) Build {
	return func(g *G.ExprGraph) (*G.Node, G.Nodes, error) {
		rng := rand.New(rand.NewPCG(1, 2))
		vals := func(n int) []float64 {
			v := make([]float64, n)
			for i := range v {
				v[i] = 0.1 * rng.NormFloat64()
			}
			return v
		}
		x := G.NewTensor(g, tensor.Float64, 2, G.WithShape(64, 128), G.WithName("x"), G.WithValue(tensor.New(tensor.WithShape(64, 128), tensor.WithBacking(vals(64*128)))))
		w := G.NewTensor(g, tensor.Float64, 2, G.WithShape(128, 128), G.WithName("W"), G.WithValue(tensor.New(tensor.WithShape(128, 128), tensor.WithBacking(vals(128*128)))))
		z := x
		for range k {
			pre, err := G.Mul(z, w)
			if err != nil {
				return nil, nil, err
			}
			if z, err = G.Tanh(pre); err != nil {
				return nil, nil, err
			}
		}
		loss, err := G.Sum(z)
		return loss, G.Nodes{w}, err
	}
}

// TestCheckSeesDepth: a step whose graph does not depend on the cap
// passes Check against the chain as its twin, and the chain itself,
// measured as if it were implicit, breaks the claim.
func TestCheckSeesDepth(t *testing.T) {
	m := Check(t, 5, 40, func(int) Build { return chain(1) }, chain)
	if m.UnrolledHigh < 4*m.UnrolledLow {
		t.Errorf("40 tanh layers hold only %.2fx 5 layers' bytes", m.UnrolledHigh/m.UnrolledLow)
	}
	leaky := Measure{Low: 5, High: 40, ImplicitLow: m.UnrolledLow, ImplicitHigh: m.UnrolledHigh, UnrolledLow: m.UnrolledLow, UnrolledHigh: m.UnrolledHigh}
	if len(leaky.Problems()) == 0 {
		t.Errorf("a step whose bytes grow %.2fx with the cap passes as flat", m.UnrolledHigh/m.UnrolledLow)
	}
}

// TestProblems: each rule of Measure.Problems on its own.
func TestProblems(t *testing.T) {
	for _, c := range []struct {
		name string
		m    Measure
		want string // a fragment of the one problem; "" for none
	}{
		{"flat", Measure{ImplicitLow: 100, ImplicitHigh: 105, UnrolledLow: 200, UnrolledHigh: 900}, ""},
		{"implicit grows", Measure{ImplicitLow: 100, ImplicitHigh: 111, UnrolledLow: 200, UnrolledHigh: 900}, "implicit model"},
		{"implicit shrinks", Measure{ImplicitLow: 100, ImplicitHigh: 89, UnrolledLow: 200, UnrolledHigh: 900}, ""},
		{"implicit not a number", Measure{ImplicitLow: 0, ImplicitHigh: 0, UnrolledLow: 200, UnrolledHigh: 900}, "implicit model"},
		{"twin flat", Measure{ImplicitLow: 100, ImplicitHigh: 100, UnrolledLow: 200, UnrolledHigh: 250}, "unrolled twin"},
		{"twin below", Measure{ImplicitLow: 1000, ImplicitHigh: 1000, UnrolledLow: 200, UnrolledHigh: 900}, "holds less"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ps := c.m.Problems()
			switch {
			case c.want == "" && len(ps) != 0:
				t.Errorf("problems %q, want none", ps)
			case c.want != "" && (len(ps) != 1 || !strings.Contains(ps[0], c.want)):
				t.Errorf("problems %q, want one about %q", ps, c.want)
			}
		})
	}
}

// TestCompileStepsTheWeights: a compiled step changes the parameters
// (Adam applied the gradients) and a build without parameters is refused.
func TestCompileStepsTheWeights(t *testing.T) {
	var w *G.Node
	s, err := Compile(func(g *G.ExprGraph) (*G.Node, G.Nodes, error) {
		loss, ps, err := chain(2)(g)
		w = ps[0]
		return loss, ps, err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before := append([]float64(nil), w.Value().Data().([]float64)...)
	if err := s.Run(); err != nil {
		t.Fatal(err)
	}
	changed := 0
	for i, v := range w.Value().Data().([]float64) {
		if v != before[i] {
			changed++
		}
	}
	if changed == 0 {
		t.Error("a step left every weight unchanged")
	}
	if _, err := Compile(func(g *G.ExprGraph) (*G.Node, G.Nodes, error) { return nil, nil, nil }); err == nil {
		t.Error("a build with no loss compiled")
	}
}

// finalized is a link of a chain of objects with finalizers, each holding
// a buffer and the next link.
type finalized struct {
	buf  []byte
	next *finalized
}

// TestHeldIgnoresGarbageAwaitingFinalizers: a build that leaves behind a
// chain of three finalized objects of 1 MiB each, unreachable, holds
// nothing; only collections that wait for the finalizers free the chain
// (each link needs its own collection after its finalizer ran).
func TestHeldIgnoresGarbageAwaitingFinalizers(t *testing.T) {
	const n, slack = 1 << 20, 64 << 10
	held, err := Held(func() (any, error) {
		var head *finalized
		for range 3 {
			f := &finalized{buf: make([]byte, n), next: head}
			for i := range f.buf {
				f.buf[i] = byte(i)
			}
			runtime.SetFinalizer(f, func(f *finalized) { f.next = nil })
			head = f
		}
		return 0, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("held %.0f bytes", held)
	if held > slack {
		t.Errorf("a chain of finalized garbage measured %.0f bytes held, want ≤ %d", held, slack)
	}
}
