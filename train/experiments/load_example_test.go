package experiments_test

import (
	"fmt"

	"github.com/implicit-ml/implicit/train/experiments"
)

// LoadModel rebuilds a trained model from the folder `go run ./cmd/train
// -out DIR` wrote, for inference: Loaded.Model holds the checkpoint's
// parameters, Input and Output give the per-sample shapes, Implicits the
// implicit layers. A folder without a run, a corrupt checkpoint or one of
// another configuration is refused with a one-line error (here, a folder
// that holds no run). cmd/serve passes serve.WrapSolver as Solver.
func ExampleLoadModel() {
	l, err := experiments.LoadModel("testdata/no-run-here", experiments.LoadOptions{Model: "implicit-deq"})
	if err != nil {
		fmt.Println("usage error:", experiments.UsageError(err))
		fmt.Println(err)
		return
	}
	fmt.Println(l.Model.Name(), l.Input, l.Output, l.Finished)
	// Output:
	// usage error: true
	// testdata/no-run-here holds no run (no run.json): pass a folder that `go run ./cmd/train -out DIR` wrote
}
