package attention_test

import (
	"fmt"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/layers/attention"
)

// recurrentDepth builds a small recurrent-depth transformer on ids
// (B, T): prelude (embedding, one block) → the weight-tied core iterated
// r times with the prelude's output injected at every step → coda (one
// block, a norm) → logits (B·T, V).
func recurrentDepth(s *layers.Scope, ids *G.Node, vocab, dim, r int) (*G.Node, error) {
	seqLen := ids.Shape()[1]
	block := attention.BlockConfig{Dim: dim, Heads: 4, SeqLen: seqLen, Gated: true, Sandwich: true}
	prelude := layers.Sequential{attention.NewEmbedding(s, "embed", vocab, dim), attention.NewBlock(s, "prelude", block)}
	e, err := prelude.Fwd(ids)
	if err != nil {
		return nil, err
	}
	inj, err := attention.ToState(e, seqLen) // (B·T, D) → (B, T·D): one row per sequence
	if err != nil {
		return nil, err
	}
	core := attention.NewCoreCell(s, "core", attention.CoreConfig{Block: block})
	// Huginn trains with r unrolled iterations; s.Implicit("core", core, …)
	// would solve for the fixed point instead.
	z, err := (&layers.Unrolled{Cell: core, Steps: r}).Fwd(inj)
	if err != nil {
		return nil, err
	}
	tokens, err := attention.ToTokens(z, dim)
	if err != nil {
		return nil, err
	}
	coda := layers.Sequential{
		attention.NewBlock(s, "coda", block),
		attention.NewRMSNorm(s, "norm", dim, 0),
		s.Dense("head", dim, vocab, layers.Identity, layers.NoBias()),
	}
	return coda.Fwd(tokens)
}

func Example() {
	const batch, seqLen, vocab, dim = 4, 16, 20, 32
	g := G.NewGraph()
	s := layers.NewScope(g, tensor.Float32, rand.New(rand.NewPCG(1, 2)))
	ids := G.NewTensor(g, tensor.Float32, 2, G.WithShape(batch, seqLen), G.WithName("ids"), G.WithInit(G.Zeroes()))
	logits, err := recurrentDepth(s, ids, vocab, dim, 4)
	if err != nil {
		fmt.Println(err)
		return
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("logits", logits.Shape(), "parameters", layers.CountParams(s.Params()))
	// Output: logits (64, 20) parameters 52896
}
