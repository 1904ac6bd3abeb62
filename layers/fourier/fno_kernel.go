package fourier

import (
	"fmt"

	"github.com/implicit-ml/implicit/layers"

	G "gorgonia.org/gorgonia"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/linalg"
	"github.com/implicit-ml/implicit/internal/opkit"
)

// fnoKernel evaluates φ(K z + z·W + inj + b) and its VJP
// J_fᵀv = Kᵀ(v ⊙ φ') + (v ⊙ φ')·Wᵀ on flat channel-last buffers.
type fnoKernel[T deq.Float] struct {
	b, s, c    int
	act        layers.Activation
	plan       *spectralPlan[T]
	blk        []T // K's weights in block form (blockWeights)
	w, bias    []T
	inj        []T
	deriv, tmp []T // φ' at the linearisation point; scratch
}

func (k *fnoKernel[T]) Bind(inj, params []G.Value) error {
	if len(inj) != 1 || len(params) != 3 {
		return fmt.Errorf("fourier: FNOCell kernel bound to %d injections and %d parameters, want 1 and 3", len(inj), len(params))
	}
	var err error
	if k.inj, err = opkit.Data[T](inj[0]); err != nil {
		return err
	}
	kw, err := opkit.Data[T](params[0])
	if err != nil {
		return err
	}
	if k.w, err = opkit.Data[T](params[1]); err != nil {
		return err
	}
	if k.bias, err = opkit.Data[T](params[2]); err != nil {
		return err
	}
	n, c := k.b*k.s*k.s*k.c, k.c
	if len(k.inj) != n || len(kw) != 2*spectralModes(k.plan.m)*c*c || len(k.w) != c*c || len(k.bias) != c {
		return fmt.Errorf("fourier: FNOCell kernel got values of the wrong size")
	}
	k.blk = blockBuf(k.plan, kw)
	return nil
}

// pre writes φ(K z + z·W + inj + b) into out and, when d is not nil, φ'
// into d.
func (k *fnoKernel[T]) pre(out, z, d []T) {
	rows, c := k.b*k.s*k.s, k.c
	k.plan.apply(out, z, k.inj, k.blk, k.b)
	linalg.Gemm(false, false, rows, c, c, 1, z, c, k.w, c, 1, out, c)
	spectralSplit(rows, rows*c*4, func(lo, hi int) {
		o := out[lo*c : hi*c]
		for r := 0; r < hi-lo; r++ {
			or := o[r*c : (r+1)*c]
			for j := range or {
				or[j] += k.bias[j]
			}
		}
		var dd []T
		if d != nil {
			dd = d[lo*c : hi*c]
		}
		layers.Activate(k.act, o, dd)
	})
}

func (k *fnoKernel[T]) Eval(out, z []T) error { k.pre(out, z, nil); return nil }

func (k *fnoKernel[T]) Linearize(z []T) error { k.pre(k.tmp, z, k.deriv); return nil }

func (k *fnoKernel[T]) VJP(out, v []T) error {
	rows, c := k.b*k.s*k.s, k.c
	for i := range k.tmp {
		k.tmp[i] = v[i] * k.deriv[i]
	}
	opkit.FlushSubnormal(k.tmp)
	k.plan.applyT(out, k.tmp, nil, k.blk, k.b)
	linalg.Gemm(false, true, rows, c, c, 1, k.tmp, c, k.w, c, 1, out, c)
	return nil
}
