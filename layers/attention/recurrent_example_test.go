package attention_test

import (
	"fmt"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/layers/attention"
)

// Build Huginn's model at toy size, run it at several recurrences r, then
// solve its core for the fixed point: one graph, the recurrence a
// run-time setting. The training graph of the same model would hold
// Backprop iterations (truncated backpropagation through them).
func ExampleNewRecurrentDepth() {
	const batch, seqLen, vocab, dim = 2, 8, 12, 16
	g := G.NewGraph()
	s := layers.NewScope(g, tensor.Float64, rand.New(rand.NewPCG(1, 2)))
	ids := G.NewTensor(g, tensor.Float64, 2, G.WithShape(batch, seqLen), G.WithName("ids"), G.WithInit(G.Zeroes()))
	block := attention.BlockConfig{Dim: dim, Heads: 2, SeqLen: seqLen, Gated: true, Sandwich: true}
	m := attention.NewRecurrentDepth(s, "rd", attention.RecurrentConfig{
		Vocab: vocab, Prelude: 1, Coda: 1,
		Core: attention.CoreConfig{Block: block, Layers: 2, StateGain: 0.3}, // contractive at initialisation
	})
	logits, err := m.Fwd(ids)
	if err != nil {
		fmt.Println(err)
		return
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	for _, r := range []int{1, 4, 32, 0} {
		if err := m.SetRecurrence(r); err != nil {
			fmt.Println(err)
			return
		}
		if err := vm.RunAll(); err != nil {
			fmt.Println(err)
			return
		}
		v, _ := layers.Floats64(logits.Value())
		fmt.Printf("r = %2d: logit[0] = %.4f\n", r, v[0])
		vm.Reset()
	}
	st := m.Layer.Stats()
	fmt.Printf("the solve: %v; logits %v, %d parameters\n", st.ForwardStatus, logits.Shape(), layers.CountParams(m.Params()))
	// Output:
	// r =  1: logit[0] = 2.2688
	// r =  4: logit[0] = 1.7768
	// r = 32: logit[0] = 1.7138
	// r =  0: logit[0] = 1.7138
	// the solve: converged; logits (16, 12), 17552 parameters
}

// Draw the recurrences of eight training batches from Huginn's
// heavy-tailed sampler, at least 2 (the iterations a training graph
// holds) and at most 24.
func ExampleRecurrence() {
	rec := attention.Recurrence{Mean: 8, Min: 2, Max: 24}
	if err := rec.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	rng := rand.New(rand.NewPCG(3, 4))
	var rs []int
	for range 8 {
		rs = append(rs, rec.Draw(rng))
	}
	fmt.Println(rs)
	// Output:
	// [10 4 15 10 8 8 6 13]
}

// Build the untied baseline: four blocks, each with its own parameters.
func ExampleNewTransformer() {
	g := G.NewGraph()
	s := layers.NewScope(g, tensor.Float32, rand.New(rand.NewPCG(5, 6)))
	ids := G.NewTensor(g, tensor.Float32, 2, G.WithShape(4, 16), G.WithName("ids"), G.WithInit(G.Zeroes()))
	m := attention.NewTransformer(s, "tf", attention.TransformerConfig{Vocab: 20, Depth: 4, Block: attention.BlockConfig{Dim: 32, Heads: 4, SeqLen: 16, Gated: true, Sandwich: true}})
	logits, err := m.Fwd(ids)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("logits", logits.Shape(), "parameters", layers.CountParams(m.Params()))
	// Output:
	// logits (64, 20) parameters 67360
}
