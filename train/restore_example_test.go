package train_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	G "gorgonia.org/gorgonia"

	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/network"
	"github.com/implicit-ml/implicit/train"
)

// points is a tiny dataset: y = 1 where x's first value is positive.
type points struct{ x [][]float32 }

func (p points) Len() int           { return len(p.x) }
func (p points) InputShape() []int  { return []int{2} }
func (p points) TargetShape() []int { return []int{2} }
func (p points) Sample(i int, x, y []float32) {
	copy(x, p.x[i])
	y[0], y[1] = 0, 0
	if p.x[i][0] > 0 {
		y[1] = 1
	} else {
		y[0] = 1
	}
}

// A model trained with a checkpoint is restored into a fresh copy of the
// same network for inference: the copy then predicts what the trained one
// does.
func ExampleCheckpoint_RestoreParams() {
	spec := network.Spec{Name: "linear", Seed: 1, Input: []int{2}, Target: []int{2}, Loss: network.CrossEntropy,
		Body: func(s *layers.Scope, x *G.Node) (*G.Node, error) { return s.Dense("fc", 2, 2, layers.Identity).Fwd(x) }}
	rng := rand.New(rand.NewPCG(1, 1))
	data := points{}
	for range 64 {
		data.x = append(data.x, []float32{float32(rng.NormFloat64()), float32(rng.NormFloat64())})
	}
	dir, _ := os.MkdirTemp("", "restore")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "linear.ckpt")
	trained := network.New(spec)
	if _, err := train.Fit(context.Background(), trained, data, train.Config{Epochs: 3, BatchSize: 16, Checkpoint: path}); err != nil {
		fmt.Println(err)
		return
	}
	spec.Seed = 2 // other initial values
	fresh := network.New(spec)
	if _, err := fresh.Build(G.NewGraph(), 1, false); err != nil {
		fmt.Println(err)
		return
	}
	c, err := train.LoadCheckpoint(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := c.RestoreParams(path, fresh.Scope().Params()); err != nil {
		fmt.Println(err)
		return
	}
	predict := func(m train.Model) []float64 {
		ev, _ := train.NewEvaluator(m, 1)
		defer ev.Close()
		y, _ := ev.Predict([]float64{0.5, -1}, 1)
		return y
	}
	a, b := predict(trained), predict(fresh)
	fmt.Println("same predictions:", a[0] == b[0] && a[1] == b[1])
	// Output:
	// same predictions: true
}
