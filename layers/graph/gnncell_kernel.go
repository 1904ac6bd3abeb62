package graph

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/linalg"
	"github.com/implicit-ml/implicit/internal/opkit"
	"github.com/implicit-ml/implicit/internal/vecmath"
)

// gnnConvW are one convolution's weights as kernel slices: the first
// layers' blocks per part (the update's last block multiplies the
// aggregate), the biases and the second layers.
type gnnConvW[T deq.Float] struct {
	dir          BipartiteDir
	m1           [][]T
	m1b, m2, m2b []T
	// The destination MLP (hasDst): first layer's blocks per part, bias,
	// second layer and bias.
	hasDst             bool
	d1                 [][]T
	d1b, d2, d2b       []T
	u1                 [][]T
	u1b, u2, u2b       []T
	srcSide, dstSide   int // nodes per instance on each side
	srcWidth, dstWidth []int
}

// gnnActs are the activations of one convolution for the whole batch:
// the message MLP's hidden layer, two intermediate products on the
// constraint side (var → cons: the aggregated hidden layer and the
// aggregate; cons → var: the message and its product with Wₐ), the
// aggregate on the variable side (cons → var only), and the update MLP's
// hidden layer and output.
//
// With a destination MLP, hd and pd are its hidden layer and output.
type gnnActs[T deq.Float] struct{ hm, t1, t2, agg, hu, out, hd, pd []T }

// gnnPart is a varying input part of a first layer: its values (rows of
// k) and its weight block (k × e).
type gnnPart[T deq.Float] struct {
	x, w []T
	k    int
}

// gnnKernel evaluates a GNNCell and its VJP in the state.
type gnnKernel[T deq.Float] struct {
	b, m, n, e int
	a, v, c    []T // bound injections
	convs      [4]gnnConvW[T]
	wo, bo     []T
	// Embedding-only parts of the first layers, with their biases:
	// conv1's message (B·N, e) and update (B·M, e), conv2's update (B·N, e).
	k1m, k1u, k2u []T
	deg           []T           // Σ_j A_ij per constraint node (B·M)
	fwd, lin      [4]gnnActs[T] // activations of Eval and of Linearize
	// VJP scratch: the gradients of h₁ … h₄, and per side (cons, var)
	// those of a convolution's inner values. Each buffer is indexed by
	// one side's rows only, so instance blocks never overlap.
	dh      [4][]T
	scratch [2]gnnScratch[T]
	ylin    []T // the output of Linearize, unused
}

// gnnScratch holds gradients of one side's rows: of the update's two
// pre-activations (as destination), of two intermediate products
// (constraint side), of the message MLP's hidden layer (as source) and
// of the destination MLP's output and hidden layer.
type gnnScratch[T deq.Float] struct{ po, pu, a, b, hm, pd, hd []T }

// side returns the scratch of the constraint side (for the m-node side)
// or the variable side.
func (k *gnnKernel[T]) side(nodes int) *gnnScratch[T] {
	if nodes == k.m {
		return &k.scratch[0]
	}
	return &k.scratch[1]
}

func newGNNKernel[T deq.Float](c *GNNCell, b int) *gnnKernel[T] {
	k := &gnnKernel[T]{b: b, m: c.M, n: c.N, e: c.Emb}
	rv, rc := b*c.N*c.Emb, b*c.M*c.Emb
	acts := func() (as [4]gnnActs[T]) {
		for i := range as {
			if i%2 == 0 { // var → cons
				as[i] = gnnActs[T]{hm: make([]T, rv), t1: make([]T, rc), t2: make([]T, rc), hu: make([]T, rc), out: make([]T, rc)}
			} else {
				as[i] = gnnActs[T]{hm: make([]T, rc), t1: make([]T, rc), t2: make([]T, rc), agg: make([]T, rv), hu: make([]T, rv), out: make([]T, rv)}
			}
			if c.Convs[i].Dst1 != nil {
				as[i].hd, as[i].pd = make([]T, len(as[i].out)), make([]T, len(as[i].out))
			}
		}
		return as
	}
	k.fwd, k.lin = acts(), acts()
	k.k1m, k.k1u, k.k2u = make([]T, rv), make([]T, rc), make([]T, rv)
	k.deg = make([]T, b*c.M)
	for i := range k.dh {
		k.dh[i] = make([]T, rc)
		if i%2 == 1 {
			k.dh[i] = make([]T, rv)
		}
	}
	for i, r := range []int{rc, rv} {
		k.scratch[i] = gnnScratch[T]{po: make([]T, r), pu: make([]T, r), a: make([]T, r), b: make([]T, r), hm: make([]T, r), pd: make([]T, r), hd: make([]T, r)}
	}
	k.ylin = make([]T, b*c.N)
	for i, cv := range c.Convs {
		src, dst := cv.Dir.sizes(c.M, c.N)
		k.convs[i] = gnnConvW[T]{dir: cv.Dir, srcSide: src, dstSide: dst, srcWidth: cv.Src, dstWidth: cv.Dst, hasDst: cv.Dst1 != nil}
	}
	return k
}

func (k *gnnKernel[T]) Bind(inj, params []G.Value) error {
	if len(inj) != 3 {
		return fmt.Errorf("graph: GNNCell kernel bound to %d injections, want 3", len(inj))
	}
	var err error
	if k.a, err = opkit.Data[T](inj[0]); err != nil {
		return err
	}
	if k.v, err = opkit.Data[T](inj[1]); err != nil {
		return err
	}
	if k.c, err = opkit.Data[T](inj[2]); err != nil {
		return err
	}
	if len(k.a) != k.b*k.m*k.n || len(k.v) != k.b*k.n*k.e || len(k.c) != k.b*k.m*k.e {
		return fmt.Errorf("graph: GNNCell kernel got injections of the wrong size")
	}
	ps := make([][]T, len(params))
	for i, p := range params {
		if ps[i], err = opkit.Data[T](p); err != nil {
			return err
		}
	}
	next := 0
	take := func() []T {
		if next >= len(ps) {
			return nil
		}
		next++
		return ps[next-1]
	}
	for i := range k.convs {
		cv := &k.convs[i]
		cv.m1 = cv.m1[:0]
		for range cv.srcWidth {
			cv.m1 = append(cv.m1, take())
		}
		cv.m1b, cv.m2, cv.m2b = take(), take(), take()
		updParts := len(cv.dstWidth)
		if cv.hasDst {
			cv.d1 = cv.d1[:0]
			for range cv.dstWidth {
				cv.d1 = append(cv.d1, take())
			}
			cv.d1b, cv.d2, cv.d2b = take(), take(), take()
			updParts = 1
		}
		cv.u1 = cv.u1[:0]
		for range updParts + 1 {
			cv.u1 = append(cv.u1, take())
		}
		cv.u1b, cv.u2, cv.u2b = take(), take(), take()
	}
	k.wo, k.bo = take(), take()
	if next != len(ps) || k.bo == nil {
		return fmt.Errorf("graph: GNNCell kernel bound to %d parameters, want %d", len(ps), next)
	}
	k.precompute()
	return nil
}

// dstIn returns the weight blocks and bias of the first layer that sees
// convolution cv's destination parts: its destination MLP's, or else its
// update's (whose last block, the aggregate's, is left out).
func (cv *gnnConvW[T]) dstIn() (w [][]T, b []T) {
	if cv.hasDst {
		return cv.d1, cv.d1b
	}
	return cv.u1[:len(cv.u1)-1], cv.u1b
}

// precompute fills the embedding-only parts of the first layers.
func (k *gnnKernel[T]) precompute() {
	e := k.e
	c1, c2 := &k.convs[0], &k.convs[1]
	w1, b1 := c1.dstIn()
	w2, b2 := c2.dstIn()
	linalg.Work(k.b, 2*k.b*(2*k.n+k.m)*e*e, func(lo, hi int) {
		rv := rowsOf(lo, hi, k.n)
		rc := rowsOf(lo, hi, k.m)
		firstLayer(k.k1m[lo*k.n*e:hi*k.n*e], rv, e, c1.m1b, []gnnPart[T]{{x: k.v[lo*k.n*e:], w: c1.m1[0], k: e}}, nil)
		firstLayer(k.k1u[lo*k.m*e:hi*k.m*e], rc, e, b1, []gnnPart[T]{{x: k.c[lo*k.m*e:], w: w1[0], k: e}}, nil)
		firstLayer(k.k2u[lo*k.n*e:hi*k.n*e], rv, e, b2, []gnnPart[T]{{x: k.v[lo*k.n*e:], w: w2[0], k: e}}, nil)
		for s := lo; s < hi; s++ {
			for i := 0; i < k.m; i++ {
				var d T
				for _, a := range k.a[(s*k.m+i)*k.n : (s*k.m+i+1)*k.n] {
					d += a
				}
				k.deg[s*k.m+i] = d
			}
		}
	})
}

func rowsOf(lo, hi, per int) int { return (hi - lo) * per }

// firstLayer writes base (or the bias, broadcast, when base is nil)
// plus Σ_p x_p·W_p into out (rows × e). The parts' x start at the block's
// first row.
func firstLayer[T deq.Float](out []T, rows, e int, bias []T, parts []gnnPart[T], base []T) {
	if base != nil {
		copy(out[:rows*e], base[:rows*e])
	} else {
		for r := 0; r < rows; r++ {
			copy(out[r*e:(r+1)*e], bias)
		}
	}
	for _, p := range parts {
		linalg.Gemm(false, false, rows, e, p.k, 1, p.x, p.k, p.w, e, 1, out, e)
	}
}

// dense writes φ(x·W + b) into out (rows × e) for x (rows × e).
func dense[T deq.Float](out, x, w, b []T, rows, e int, relu bool) {
	for r := 0; r < rows; r++ {
		copy(out[r*e:(r+1)*e], b)
	}
	linalg.Gemm(false, false, rows, e, e, 1, x, e, w, e, 1, out, e)
	if relu {
		reluInPlace(out[:rows*e])
	}
}

func reluInPlace[T deq.Float](x []T) {
	if x32, ok := any(x).([]float32); ok {
		vecmath.ReLU(x32)
		return
	}
	for i, v := range x {
		if !(v > 0) {
			x[i] = 0
		}
	}
}

// conv computes convolution i for instances lo … hi−1 into acts:
// varying source and destination parts are added to the constant parts
// msgBase and updBase (nil: the bias alone). The dense maps run on the
// constraint side, as in BipartiteConv.Apply.
func (k *gnnKernel[T]) conv(i int, acts *gnnActs[T], lo, hi int, msgBase []T, src []gnnPart[T], updBase []T, dst []gnnPart[T]) {
	cv, e := &k.convs[i], k.e
	rs, rd, rc := rowsOf(lo, hi, cv.srcSide), rowsOf(lo, hi, cv.dstSide), rowsOf(lo, hi, k.m)
	os, od, oc := lo*cv.srcSide*e, lo*cv.dstSide*e, lo*k.m*e
	if cv.hasDst {
		// The destination MLP, its base (bias and constant parts) in
		// updBase; the update then sees its output.
		hd, pd := acts.hd[od:od+rd*e], acts.pd[od:od+rd*e]
		firstLayer(hd, rd, e, cv.d1b, dst, updBase)
		reluInPlace(hd)
		dense(pd, hd, cv.d2, cv.d2b, rd, e, false)
		dst, updBase = []gnnPart[T]{{x: pd, w: cv.u1[0], k: e}}, nil
	}
	hm := acts.hm[os : os+rs*e]
	firstLayer(hm, rs, e, cv.m1b, src, msgBase)
	reluInPlace(hm)
	t1, t2 := acts.t1[oc:oc+rc*e], acts.t2[oc:oc+rc*e]
	wa := cv.u1[len(cv.u1)-1]
	if cv.dir == VarToCons {
		// agg = (A·h)·W² + deg·b², then the update takes it as a part.
		aggregate(acts.t1, k.a, acts.hm, lo, hi, k.m, k.n, e, VarToCons)
		for r := 0; r < rc; r++ {
			d := k.deg[lo*k.m+r]
			for j := 0; j < e; j++ {
				t2[r*e+j] = d * cv.m2b[j]
			}
		}
		linalg.Gemm(false, false, rc, e, e, 1, t1, e, cv.m2, e, 1, t2, e)
		dst = append(dst, gnnPart[T]{x: t2, w: wa, k: e})
	} else {
		// agg·Wₐ = Aᵀ·((h·W² + b²)·Wₐ), added to the update's first layer.
		dense(t1, hm, cv.m2, cv.m2b, rc, e, false)
		linalg.Gemm(false, false, rc, e, e, 1, t1, e, wa, e, 0, t2, e)
		aggregate(acts.agg, k.a, acts.t2, lo, hi, k.m, k.n, e, ConsToVar)
	}
	hu, out := acts.hu[od:od+rd*e], acts.out[od:od+rd*e]
	firstLayer(hu, rd, e, cv.u1b, dst, updBase)
	if cv.dir == ConsToVar {
		for j, v := range acts.agg[od : od+rd*e] {
			hu[j] += v
		}
	}
	reluInPlace(hu)
	dense(out, hu, cv.u2, cv.u2b, rd, e, true)
}

// forward evaluates the cell at z into out, keeping the activations in
// acts.
func (k *gnnKernel[T]) forward(out, z []T, acts *[4]gnnActs[T]) {
	e, n, m := k.e, k.n, k.m
	flops := 2 * k.b * e * (8*e*(n+m) + 4*len(k.a)/max(k.b, 1)/5)
	linalg.Work(k.b, flops, func(lo, hi int) {
		vo, co := lo*n*e, lo*m*e
		y := z[lo*n:]
		c1, c2 := &k.convs[0], &k.convs[1]
		k.conv(0, &acts[0], lo, hi, k.k1m[vo:], []gnnPart[T]{{x: y, w: c1.m1[1], k: 1}}, k.k1u[co:], nil)
		h1 := acts[0].out[co:]
		w2, _ := c2.dstIn()
		w3, _ := k.convs[2].dstIn()
		w4, _ := k.convs[3].dstIn()
		k.conv(1, &acts[1], lo, hi, nil, []gnnPart[T]{{x: h1, w: c2.m1[0], k: e}}, k.k2u[vo:], []gnnPart[T]{{x: y, w: w2[1], k: 1}})
		h2 := acts[1].out[vo:]
		k.conv(2, &acts[2], lo, hi, nil, []gnnPart[T]{{x: h2, w: k.convs[2].m1[0], k: e}}, nil, []gnnPart[T]{{x: h1, w: w3[0], k: e}})
		h3 := acts[2].out[co:]
		k.conv(3, &acts[3], lo, hi, nil, []gnnPart[T]{{x: h3, w: k.convs[3].m1[0], k: e}}, nil, []gnnPart[T]{{x: h2, w: w4[0], k: e}})
		h4 := acts[3].out[vo:]
		rows := rowsOf(lo, hi, n)
		o := out[lo*n : hi*n]
		for r := range o {
			o[r] = k.bo[0]
		}
		linalg.Gemm(false, false, rows, 1, e, 1, h4, e, k.wo, 1, 1, o, 1)
	})
}

func (k *gnnKernel[T]) Eval(out, z []T) error {
	k.forward(out, z, &k.fwd)
	return nil
}

func (k *gnnKernel[T]) Linearize(z []T) error {
	k.forward(k.ylin, z, &k.lin)
	return nil
}

// gradTarget receives the gradient of one input part: out = beta·out +
// dPre·Wᵀ over the block's rows.
type gradTarget[T deq.Float] struct {
	out, w []T
	k      int
	beta   T
}

// convBack propagates dOut (the gradient of convolution i's output) for
// instances lo … hi−1 to the varying source and destination parts.
func (k *gnnKernel[T]) convBack(i int, acts *gnnActs[T], lo, hi int, dOut []T, src, dst []gradTarget[T]) {
	cv, e := &k.convs[i], k.e
	rs, rd, rc := rowsOf(lo, hi, cv.srcSide), rowsOf(lo, hi, cv.dstSide), rowsOf(lo, hi, k.m)
	os, od, oc := lo*cv.srcSide*e, lo*cv.dstSide*e, lo*k.m*e
	out, hu, hm := acts.out[od:od+rd*e], acts.hu[od:od+rd*e], acts.hm[os:os+rs*e]
	ds, ss, cs := k.side(cv.dstSide), k.side(cv.srcSide), &k.scratch[0]
	dpo, dpu := ds.po[od:od+rd*e], ds.pu[od:od+rd*e]
	for j, v := range dOut[:rd*e] {
		if out[j] > 0 {
			dpo[j] = v
		} else {
			dpo[j] = 0
		}
	}
	linalg.Gemm(false, true, rd, e, e, 1, dpo, e, cv.u2, e, 0, dpu, e)
	maskRelu(dpu, hu)
	dIn := dpu // the gradient of the pre-activation that sees dst's parts
	if cv.hasDst {
		dpd, dhd := ds.pd[od:od+rd*e], ds.hd[od:od+rd*e]
		linalg.Gemm(false, true, rd, e, e, 1, dpu, e, cv.u1[0], e, 0, dpd, e)
		linalg.Gemm(false, true, rd, e, e, 1, dpd, e, cv.d2, e, 0, dhd, e)
		maskRelu(dhd, acts.hd[od:od+rd*e])
		dIn = dhd
	}
	for _, t := range dst {
		linalg.Gemm(false, true, rd, t.k, e, 1, dIn, e, t.w, e, t.beta, t.out, t.k)
	}
	wa := cv.u1[len(cv.u1)-1]
	ga, gb := cs.a[oc:oc+rc*e], cs.b[oc:oc+rc*e]
	dhm := ss.hm[os : os+rs*e]
	if cv.dir == VarToCons {
		linalg.Gemm(false, true, rc, e, e, 1, dpu, e, wa, e, 0, ga, e)   // d agg
		linalg.Gemm(false, true, rc, e, e, 1, ga, e, cv.m2, e, 0, gb, e) // d (A·h)
		aggregate(ss.hm, k.a, cs.b, lo, hi, k.m, k.n, e, ConsToVar)
	} else {
		aggregate(cs.a, k.a, ds.pu, lo, hi, k.m, k.n, e, VarToCons)       // d (msg·Wₐ)
		linalg.Gemm(false, true, rc, e, e, 1, ga, e, wa, e, 0, gb, e)     // d msg
		linalg.Gemm(false, true, rc, e, e, 1, gb, e, cv.m2, e, 0, dhm, e) // d h
	}
	maskRelu(dhm, hm)
	for _, t := range src {
		linalg.Gemm(false, true, rs, t.k, e, 1, dhm, e, t.w, e, t.beta, t.out, t.k)
	}
}

// maskRelu zeroes d where the ReLU output y is zero.
func maskRelu[T deq.Float](d, y []T) {
	for j, v := range y {
		if !(v > 0) {
			d[j] = 0
		}
	}
}

func (k *gnnKernel[T]) VJP(out, v []T) error {
	e, n, m := k.e, k.n, k.m
	flops := 4 * k.b * e * (8*e*(n+m) + 4*len(k.a)/max(k.b, 1)/5)
	linalg.Work(k.b, flops, func(lo, hi int) {
		vo, co := lo*n*e, lo*m*e
		rows := rowsOf(lo, hi, n)
		dh4 := k.dh[3][vo : vo+rows*e]
		for r := 0; r < rows; r++ {
			for j := 0; j < e; j++ {
				dh4[r*e+j] = v[lo*n+r] * k.wo[j]
			}
		}
		c := &k.convs
		w2, _ := c[1].dstIn()
		w3, _ := c[2].dstIn()
		w4, _ := c[3].dstIn()
		// conv₄: src h₃, dst h₂.
		k.convBack(3, &k.lin[3], lo, hi, dh4,
			[]gradTarget[T]{{out: k.dh[2][co:], w: c[3].m1[0], k: e}},
			[]gradTarget[T]{{out: k.dh[1][vo:], w: w4[0], k: e}})
		// conv₃: src h₂ (added), dst h₁.
		k.convBack(2, &k.lin[2], lo, hi, k.dh[2][co:],
			[]gradTarget[T]{{out: k.dh[1][vo:], w: c[2].m1[0], k: e, beta: 1}},
			[]gradTarget[T]{{out: k.dh[0][co:], w: w3[0], k: e}})
		// conv₂: src h₁ (added), dst [v, y]: the y part starts the result.
		dy := out[lo*n : hi*n]
		k.convBack(1, &k.lin[1], lo, hi, k.dh[1][vo:],
			[]gradTarget[T]{{out: k.dh[0][co:], w: c[1].m1[0], k: e, beta: 1}},
			[]gradTarget[T]{{out: dy, w: w2[1], k: 1}})
		// conv₁: src [v, y], the y part added; dst c is constant.
		k.convBack(0, &k.lin[0], lo, hi, k.dh[0][co:],
			[]gradTarget[T]{{out: dy, w: c[0].m1[1], k: 1, beta: 1}}, nil)
	})
	return nil
}
