//go:build amd64 && !purego

package vecmath

import "golang.org/x/sys/cpu"

var hasAVX2 = cpu.X86.HasAVX2

//go:noescape
func tanhAVX2(x []float32)

//go:noescape
func adamAVX2(w, g, m, v []float32, c *[9]float32)

//go:noescape
func reluAVX2(x []float32)

//go:noescape
func reluGradAVX2(s, y, g []float32)
