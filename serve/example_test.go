package serve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/network"
	"github.com/implicit-ml/implicit/serve"
)

// Serving a DEQ in process: the implicit layer solves with the server's
// Solver, so each request's budget applies to its own samples, however
// they are batched. (Serve on a listener for HTTP; cmd/serve does that
// for a trained run.)
func Example() {
	srv, err := serve.New(exampleModel(tensor.Float64), serve.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Shutdown(context.Background())
	x := [][]float64{{1, -1, 0.5, 2}}
	for _, b := range []*serve.Budget{{Iterations: 3}, {Tol: 1e-2}, nil} { // nil: the model's own tolerance
		resp, err := srv.Predict(&serve.PredictRequest{Inputs: x, Budget: b})
		if err != nil {
			fmt.Println(err)
			return
		}
		st := resp.Samples[0]
		fmt.Printf("%d iterations, %s, relative residual %.0e\n", st.Iterations, st.Status, *st.RelativeResidual)
	}
	_, err = srv.Predict(&serve.PredictRequest{Inputs: [][]float64{{1, 2}}})
	fmt.Println(serve.StatusCode(err), err)
	// Output:
	// 3 iterations, converged, relative residual 6e-02
	// 5 iterations, converged, relative residual 2e-03
	// 9 iterations, converged, relative residual 2e-07
	// 400 input 0 has 2 values; the model takes 4 (shape [4] flattened)
}

// A binary request body: the inputs as float32 after a 40-byte header
// (BinaryContentType), for clients whose inputs are hundreds of values —
// decoding them as JSON numbers would cost more than the model. The
// answer is JSON as for a JSON request.
func ExamplePredictRequest_MarshalBinary() {
	srv, err := serve.New(exampleModel(tensor.Float32), serve.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Shutdown(context.Background())
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()

	req := serve.PredictRequest{Inputs: [][]float64{{1, -1, 0.5, 2}, {0, 0, 1, 0}}, Budget: &serve.Budget{Iterations: 3}}
	body, err := req.MarshalBinary()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(body), "bytes")
	resp, err := http.Post(ts.URL+"/v1/predict", serve.BinaryContentType, bytes.NewReader(body))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var answer serve.PredictResponse
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.StatusCode, len(answer.Outputs), "outputs,", answer.Samples[0].Iterations, "iterations each")
	// Output:
	// 72 bytes
	// 200 2 outputs, 3 iterations each
}

// exampleModel is a small DEQ, 4 → implicit 8 (tanh) → 2, whose implicit
// layer solves with the server's Solver: each request's budget applies to
// its own samples, however they are batched.
func exampleModel(dt tensor.Dtype) serve.Model {
	stop := deq.Stop{Tol: 1e-6, MaxIter: 100}
	net := network.New(network.Spec{Name: "deq", Dtype: dt, Seed: 1, Input: []int{4}, Target: []int{2}, Loss: network.CrossEntropy,
		Body: func(s *layers.Scope, x *G.Node) (*G.Node, error) {
			return layers.Sequential{
				s.Dense("inject", 4, 8, layers.Identity, layers.NoBias()),
				s.Implicit("deq", s.DenseCell("cell", 8, layers.Tanh), layers.ImplicitConfig{Forward: serve.WrapSolver(deq.Anderson{}), Stop: stop}),
				s.Dense("head", 8, 2, layers.Identity),
			}.Fwd(x)
		}})
	return serve.Model{Net: net, Input: []int{4}, Output: []int{2}, Float32: dt == tensor.Float32, Budgeted: true, Stop: stop}
}
