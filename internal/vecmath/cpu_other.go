//go:build !amd64 || purego

package vecmath

const hasAVX2 = false

func tanhAVX2(x []float32) {}

func adamAVX2(w, g, m, v []float32, c *[9]float32) {}

func reluAVX2(x []float32) {}

func reluGradAVX2(s, y, g []float32) {}
