package conv

import (
	"runtime"
	"sync"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/internal/linalg"
)

// colPool keeps the scratch buffers of one convolution (im2col matrices,
// padded images, per-worker weight-gradient sums) between calls, one list
// per element type and length; im2colOnly keeps float32 convolutions on
// the im2col path (the tests compare the two).
//
// What a pool holds does not depend on the scheduler: forParts reserves
// one buffer per part before a parallel region starts. Taking buffers as
// the parts ran would leave the pool holding one or two of them (on two
// cores) depending on whether a helper goroutine started its part before
// the caller finished its own, and a training step's retained memory would
// then differ from run to run (the memory tests compare it across
// iteration counts).
type colPool struct {
	mu         sync.Mutex
	free       map[colKey][]any
	im2colOnly bool
}

// colKey names a list of buffers: their length and element type.
type colKey struct {
	n      int
	single bool // float32
}

func keyOf[T deq.Float](n int) colKey {
	var z T
	_, single := any(z).(float32)
	return colKey{n: n, single: single}
}

// getCol takes a buffer of n values, with whatever it held, from the pool,
// or allocates one.
func getCol[T deq.Float](p *colPool, n int) []T {
	k := keyOf[T](n)
	p.mu.Lock()
	defer p.mu.Unlock()
	if l := p.free[k]; len(l) > 0 {
		p.free[k] = l[:len(l)-1]
		return l[len(l)-1].([]T)
	}
	return make([]T, n)
}

// putCol gives back a buffer getCol handed out (its full length).
func putCol[T deq.Float](p *colPool, c []T) {
	k := keyOf[T](len(c))
	p.mu.Lock()
	if p.free == nil {
		p.free = map[colKey][]any{}
	}
	p.free[k] = append(p.free[k], c)
	p.mu.Unlock()
}

// forParts runs f over parts of [0, n) as linalg.Parallel does (grain 1),
// each part with a buffer of m values from the pool. It first makes sure
// the pool holds a buffer for every part linalg.Parallel can make, so the
// region never allocates and the pool's size is the same however the parts
// were scheduled.
func forParts[T deq.Float](p *colPool, n, m int, f func(buf []T, lo, hi int)) {
	parts := max(min(runtime.GOMAXPROCS(0), n), 1)
	k := keyOf[T](m)
	p.mu.Lock()
	if p.free == nil {
		p.free = map[colKey][]any{}
	}
	for len(p.free[k]) < parts {
		p.free[k] = append(p.free[k], make([]T, m))
	}
	p.mu.Unlock()
	linalg.Parallel(n, 1, func(lo, hi int) {
		buf := getCol[T](p, m)
		defer putCol(p, buf)
		f(buf, lo, hi)
	})
}
