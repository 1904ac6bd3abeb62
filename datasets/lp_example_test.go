package datasets_test

import (
	"fmt"

	"github.com/implicit-ml/implicit/datasets"
)

// Draw the first three solvable LPs of the paper's workload for seed 1,
// each with its verified optimum, and view them as a training set.
func ExampleGenerateLPs() {
	lps, stats, err := datasets.GenerateLPs(datasets.LPConfig{}, 1, 3)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(stats)
	for _, p := range lps {
		eq := 0
		for _, e := range p.Eq {
			if e {
				eq++
			}
		}
		fmt.Printf("draw %d: %d×%d, %d equality rows, optimum %.4f\n", p.Index, p.M, p.N, eq, p.Objective)
	}

	set, err := datasets.NewLPSet(lps)
	if err != nil {
		fmt.Println(err)
		return
	}
	l := set.Layout()
	x, y := make([]float32, l.Size), make([]float32, l.N)
	set.Sample(0, x, y)
	fmt.Println(set.Len(), set.InputShape(), set.TargetShape(), "b starts at", l.B, "c at", l.C)
	// Output:
	// drew 7, kept 3, rejected 4 (4 infeasible, 0 unbounded, 0 unverified, 0 solver failures)
	// draw 0: 10×50, 3 equality rows, optimum -1.1897
	// draw 1: 10×50, 2 equality rows, optimum -1.2350
	// draw 6: 10×50, 4 equality rows, optimum -1.9943
	// 3 [670] [50] b starts at 500 c at 520
}
