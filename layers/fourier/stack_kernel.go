package fourier

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/linalg"
	"github.com/implicit-ml/implicit/internal/opkit"
	"github.com/implicit-ml/implicit/layers"
)

// stackKernel evaluates a FourierStack and its VJP on flat channel-last
// buffers of b samples. Per layer, after the spectral convolution s = K z
// (all rows at once), the pointwise part runs on blocks of stackChunk
// rows, each block's products and GELUs together while they sit in cache:
//
//	h = GELU(s·A + a),  q = h·M + z·W + b + inj,  y = GELU(q).
//
// Linearize keeps GELU'(s·A + a) and GELU'(q) of every layer; VJP runs
// the layers backwards:
//
//	g_q = g ⊙ GELU'(q),  g_z = g_q·Wᵀ + Kᵀ((g_q·Mᵀ ⊙ GELU'(h_pre))·Aᵀ).
type stackKernel[T deq.Float] struct {
	b, s, c, rows int
	alpha         T // the averaging weight α (FourierStack.Relax)
	plan          *spectralPlan[T]
	layers        []stackLayer[T]
	inj           []T
	// Per layer, GELU' of the MLP's and of the outer pre-activation at
	// the linearisation point.
	d1, d2 [][]T
	// zs are the states between layers; spec, h, tmp and gq scratch.
	zs               [2][]T
	spec, h, tmp, gq []T
}

// stackLayer is one layer's bound values: K's weights in block form, A,
// a, M, W, b, and whether the outer GELU applies.
type stackLayer[T deq.Float] struct {
	blk, a, ab, m, w, bias []T
	act                    bool
	// abRows and injB hold a and inj + b in every row: the starting
	// values of the two products, copied in (a few times faster than
	// adding a bias row by row).
	abRows, injB []T
}

// stackChunk is the number of rows the pointwise part handles at once: a
// few tens of kilobytes per buffer, and below the size at which
// linalg.Gemm would split a product over the cores itself.
const stackChunk = 128

// layerParams is the number of parameters of a FourierLayer.
const layerParams = 6

func newStackKernel[T deq.Float](b, s, c, m, depth int) *stackKernel[T] {
	rows := b * s * s
	n := rows * c
	k := &stackKernel[T]{b: b, s: s, c: c, rows: rows, alpha: 1, plan: newSpectralPlan[T](s, m, c, c),
		layers: make([]stackLayer[T], depth), d1: make([][]T, depth), d2: make([][]T, depth),
		spec: make([]T, n), h: make([]T, n), tmp: make([]T, n), gq: make([]T, n)}
	for l := range depth {
		k.layers[l].blk = make([]T, spectralModes(m)*4*c*c)
		k.layers[l].abRows, k.layers[l].injB = make([]T, n), make([]T, n)
		k.layers[l].act = true
		k.d1[l], k.d2[l] = make([]T, n), make([]T, n)
	}
	k.zs = [2][]T{make([]T, n), make([]T, n)}
	return k
}

func (k *stackKernel[T]) Bind(inj, params []G.Value) error {
	if len(inj) != 1 || len(params) != layerParams*len(k.layers) {
		return fmt.Errorf("fourier: FourierStack kernel bound to %d injections and %d parameters, want 1 and %d", len(inj), len(params), layerParams*len(k.layers))
	}
	var err error
	if k.inj, err = opkit.Data[T](inj[0]); err != nil {
		return err
	}
	if len(k.inj) != k.rows*k.c {
		return fmt.Errorf("fourier: FourierStack kernel got an injection of %d values, want %d", len(k.inj), k.rows*k.c)
	}
	for l := range k.layers {
		if err := k.bindLayer(l, params[l*layerParams:(l+1)*layerParams]); err != nil {
			return err
		}
	}
	return nil
}

func (k *stackKernel[T]) bindLayer(l int, vals []G.Value) error {
	var d [layerParams][]T
	for i, v := range vals {
		var err error
		if d[i], err = opkit.Data[T](v); err != nil {
			return err
		}
	}
	c, modes := k.c, spectralModes(k.plan.m)
	for i, want := range [layerParams]int{2 * modes * c * c, c * c, c, c * c, c * c, c} {
		if len(d[i]) != want {
			return fmt.Errorf("fourier: FourierStack kernel: parameter %d of layer %d has %d values, want %d", i, l, len(d[i]), want)
		}
	}
	ly := &k.layers[l]
	blockWeights(ly.blk, d[0], modes, c, c)
	ly.a, ly.ab, ly.m, ly.w, ly.bias = d[1], d[2], d[3], d[4], d[5]
	linalg.Rows(k.rows, c, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			copy(ly.abRows[r*c:(r+1)*c], ly.ab)
			row, inj := ly.injB[r*c:(r+1)*c], k.inj[r*c:(r+1)*c]
			for j, b := range ly.bias {
				row[j] = inj[j] + b
			}
		}
	})
	return nil
}

// run applies the layers to z and writes the result into out, keeping
// the GELU derivatives when keep.
func (k *stackKernel[T]) run(out, z []T, keep bool) {
	in := z
	for l := range k.layers {
		dst := k.zs[l%2]
		if l == len(k.layers)-1 {
			dst = out
		}
		k.forward(l, dst, in, keep)
		in = dst
	}
}

// forward writes layer l of z into out (which must not be z).
func (k *stackKernel[T]) forward(l int, out, z []T, keep bool) {
	ly, c := &k.layers[l], k.c
	k.plan.apply(k.spec, z, nil, ly.blk, k.b)
	var d1, d2 []T
	if keep {
		d1, d2 = k.d1[l], k.d2[l]
	}
	linalg.Work(k.rows, k.rows*c*c*3, func(lo, hi int) {
		for r0 := lo; r0 < hi; r0 += stackChunk {
			r1 := min(r0+stackChunk, hi)
			n, span := r1-r0, rowSpan[T](r0*c, r1*c)
			h, o, tmp := span(k.h), span(out), span(k.tmp)
			copy(h, span(ly.abRows))
			linalg.Gemm(false, false, n, c, c, 1, span(k.spec), c, ly.a, c, 1, h, c)
			layers.EvalGELU(h, span(d1), h, tmp)
			copy(o, span(ly.injB))
			linalg.Gemm(false, false, n, c, c, 1, h, c, ly.m, c, 1, o, c)
			linalg.Gemm(false, false, n, c, c, 1, span(z), c, ly.w, c, 1, o, c)
			if ly.act {
				layers.EvalGELU(o, span(d2), o, tmp)
			}
		}
	})
}

// backward writes into gz the gradient of ⟨g, layer l (z)⟩ in z at the
// linearisation point (gz must not be g); k.gq holds g_q afterwards.
func (k *stackKernel[T]) backward(l int, gz, g []T) {
	ly, c := &k.layers[l], k.c
	linalg.Work(k.rows, k.rows*c*c*3, func(lo, hi int) {
		for r0 := lo; r0 < hi; r0 += stackChunk {
			r1 := min(r0+stackChunk, hi)
			n, span := r1-r0, rowSpan[T](r0*c, r1*c)
			gq, h, gs := span(k.gq), span(k.h), span(k.spec)
			copy(gq, span(g))
			if ly.act {
				for i, d := range span(k.d2[l]) {
					gq[i] *= d
				}
			}
			linalg.Gemm(false, true, n, c, c, 1, gq, c, ly.w, c, 0, span(gz), c)
			linalg.Gemm(false, true, n, c, c, 1, gq, c, ly.m, c, 0, h, c)
			for i, d := range span(k.d1[l]) {
				h[i] *= d
			}
			linalg.Gemm(false, true, n, c, c, 1, h, c, ly.a, c, 0, gs, c)
		}
	})
	opkit.FlushSubnormal(k.spec)
	k.plan.applyT(gz, k.spec, gz, ly.blk, k.b)
}

func (k *stackKernel[T]) Eval(out, z []T) error {
	k.run(out, z, false)
	k.average(out, z)
	return nil
}

// average replaces out = G(z) (or J_Gᵀv) by (1−α)z + α·out.
func (k *stackKernel[T]) average(out, z []T) {
	if k.alpha == 1 {
		return
	}
	a, b := k.alpha, 1-k.alpha
	linalg.Rows(len(out), 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out[i] = a*out[i] + b*z[i]
		}
	})
}

func (k *stackKernel[T]) Linearize(z []T) error { k.run(k.tmpOut(), z, true); return nil }

// tmpOut is where Linearize writes the value it does not need: the state
// buffer the last layer does not read (it reads zs[(L−2) mod 2]).
func (k *stackKernel[T]) tmpOut() []T { return k.zs[(len(k.layers)-1)%2] }

func (k *stackKernel[T]) VJP(out, v []T) error {
	g := v
	for l := len(k.layers) - 1; l >= 0; l-- {
		dst := k.zs[l%2]
		if l == 0 {
			dst = out
		}
		k.backward(l, dst, g)
		g = dst
	}
	k.average(out, v)
	return nil
}

// rowSpan returns the function that cuts [lo, hi) out of a buffer, nil
// for a nil buffer.
func rowSpan[T deq.Float](lo, hi int) func([]T) []T {
	return func(v []T) []T {
		if v == nil {
			return nil
		}
		return v[lo:hi]
	}
}
