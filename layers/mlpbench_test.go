package layers

import (
	"testing"

	"gorgonia.org/tensor"
)

// BenchmarkMLPStep is one training step of the classify MLP (batch 64,
// 784 → 128 → 128 → 10, tanh), the explicit reference of BenchmarkDEQStep.
func BenchmarkMLPStep(b *testing.B) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		b.Run(dt.String(), func(b *testing.B) {
			st := newStepper(b, dt, func(s *Scope) Layer { return s.Dense("fc2", 128, 128, Tanh) })
			st.step(b)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				st.step(b)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/step")
		})
	}
}
