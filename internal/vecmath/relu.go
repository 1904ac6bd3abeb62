package vecmath

import "math"

// ReLU replaces every x[i] by max(x[i], 0), eight at a time where the CPU
// allows; NaN and −0 become +0.
func ReLU(x []float32) {
	n := 0
	if hasAVX2 {
		n = len(x) &^ 7
		reluAVX2(x[:n])
	}
	reluGo(x[n:])
}

// reluGo is ReLU's portable path, branch-free (a mask, not a jump, so
// that random signs cost no mispredictions).
func reluGo(x []float32) {
	for i, v := range x {
		var m uint32
		if v > 0 {
			m = ^uint32(0)
		}
		x[i] = math.Float32frombits(math.Float32bits(v) & m)
	}
}

// ReLUGrad writes ReLU's gradient from its output into s: s[i] = g[i]
// where y[i] > 0 and 0 elsewhere, with a zero or subnormal g[i] written
// as +0 (a flushed denormal, as the other float32 kernels of the
// module); y and g are at least as long as s.
func ReLUGrad(s, y, g []float32) {
	n := 0
	if hasAVX2 {
		n = len(s) &^ 7
		reluGradAVX2(s[:n], y[:n], g[:n])
	}
	reluGradGo(s[n:], y[n:len(s)], g[n:len(s)])
}

// reluGradGo is ReLUGrad's portable path, branch-free like reluGo.
func reluGradGo(s, y, g []float32) {
	for i, v := range y {
		b := math.Float32bits(g[i])
		var m uint32
		if v > 0 && b&0x7f800000 != 0 {
			m = ^uint32(0)
		}
		s[i] = math.Float32frombits(b & m)
	}
}
