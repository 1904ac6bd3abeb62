package blur

// Float is float32 or float64.
type Float interface{ ~float32 | ~float64 }

// Apply writes A·x (transpose false) or Aᵀ·x (transpose true) into out for
// n images of h×w pixels stored one after another in x; out and x must
// not overlap. Aᵀ is correlation with the kernel mirrored through its
// centre.
//
// In float32, where linalg.HasSgemmRows, the sums run in the product
// kernel (applyRows); elsewhere in the loops of applyLoops.
func Apply[T Float](out, x []T, n, h, w int, k Kernel, transpose bool) {
	if o32, ok := any(out).([]float32); ok && applyRows(o32, any(x).([]float32), n, h, w, k, transpose) {
		return
	}
	applyLoops(out, x, n, h, w, k, transpose)
}

// applyLoops is Apply as loops over the taps and pixels.
func applyLoops[T Float](out, x []T, n, h, w int, k Kernel, transpose bool) {
	kk, c := k.K, k.K/2
	taps := make([]T, len(k.W))
	for i, v := range k.W {
		if transpose {
			i = len(k.W) - 1 - i
		}
		taps[i] = T(v)
	}
	// Each image is copied once into rows padded circularly by c on both
	// sides, so every tap reads a contiguous stretch: pixel (i, j) of the
	// result is Σ_{a,b} taps[a,b]·pad[i+a−c mod h][j+b].
	pw := w + kk - 1
	pad := make([]T, h*pw)
	px := h * w
	for s := range n {
		xs, os := x[s*px:(s+1)*px], out[s*px:(s+1)*px]
		for r := range h {
			pr, xr := pad[r*pw:(r+1)*pw], xs[r*w:(r+1)*w]
			for m := range pr {
				pr[m] = xr[((m-c)%w+w)%w]
			}
		}
		for i := range h {
			or := os[i*w : (i+1)*w]
			clear(or)
			for a := range kk {
				r := ((i+a-c)%h + h) % h
				pr := pad[r*pw : (r+1)*pw]
				for b := range kk {
					t := taps[a*kk+b]
					if t == 0 {
						continue
					}
					src := pr[b : b+w]
					for j := range or {
						or[j] += t * src[j]
					}
				}
			}
		}
	}
}
