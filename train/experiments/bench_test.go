package experiments

import (
	"fmt"
	"testing"

	"github.com/implicit-ml/implicit/datasets"
	"github.com/implicit-ml/implicit/train"
)

// BenchmarkClassifyStep is one training step (batch 64, float32, Adam) of
// each classify model through the whole pipeline: fill, forward,
// backward, optimizer. It reports iterations for the DEQ.
func BenchmarkClassifyStep(b *testing.B) {
	all, _, err := datasets.Load("mnist", "")
	if err != nil {
		b.Fatal(err)
	}
	ds := all.Head(64 * 100)
	for _, kind := range []string{"mlp", "deq", "unrolled"} {
		b.Run(kind, func(b *testing.B) {
			m, err := ClassifyModel(kind, 10, Options{Seed: 1, AdjointSolver: "picard"})
			if err != nil {
				b.Fatal(err)
			}
			sess, err := train.NewSession(m, 64, train.OptimizerConfig{})
			if err != nil {
				b.Fatal(err)
			}
			defer sess.Close()
			idx := make([]int, 64)
			step := func(i int) {
				lo := (i % 100) * 64
				for j := range idx {
					idx[j] = lo + j
				}
				if _, err := sess.Step(ds, idx); err != nil {
					b.Fatal(err)
				}
			}
			for i := 0; i < 5; i++ {
				step(i)
			}
			if r := sess.Net().ResetSolverStats; r != nil {
				r()
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				step(i)
			}
			b.ReportMetric(float64(b.N*64)/b.Elapsed().Seconds(), "samples/s")
			if f := sess.Net().SolverStats; f != nil {
				st := f()
				b.ReportMetric(st.MeanForward(), "fwd-iters")
				b.ReportMetric(st.MeanBackward(), "bwd-iters")
			}
		})
	}
}

// BenchmarkClassifyInfer is inference of each classify model at a fixed
// test-time iteration count (10 for the DEQ), batches of 64 and 1000.
func BenchmarkClassifyInfer(b *testing.B) {
	for _, kind := range []string{"mlp", "deq", "unrolled"} {
		for _, batch := range []int{64, 1000} {
			b.Run(fmt.Sprintf("%s/batch=%d", kind, batch), func(b *testing.B) {
				m, err := ClassifyModel(kind, 10, Options{Seed: 1})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := train.NewSession(m, 64, train.OptimizerConfig{}); err != nil { // creates the parameters
					b.Fatal(err)
				}
				ev, err := train.NewEvaluator(m, batch)
				if err != nil {
					b.Fatal(err)
				}
				defer ev.Close()
				ev.SetIterations(10)
				x := make([]float64, batch*784)
				for i := range x {
					x[i] = float64(i%255) / 255
				}
				if _, err := ev.Predict(x, batch); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := ev.Predict(x, batch); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "samples/s")
			})
		}
	}
}
