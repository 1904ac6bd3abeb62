package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"testing"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/network"
)

// testModel is a small DEQ classifier, in → implicit hidden (tanh) → out,
// with random weights, its implicit layer solving with Solver.
func testModel(t testing.TB, in, hidden, out int, dt tensor.Dtype) Model {
	t.Helper()
	stop := deq.Stop{Tol: 1e-6, MaxIter: 200}
	var imp *layers.Implicit
	net := network.New(network.Spec{Name: "test-deq", Dtype: dt, Seed: 3, Input: []int{in}, Target: []int{out}, Loss: network.CrossEntropy,
		Body: func(s *layers.Scope, x *G.Node) (*G.Node, error) {
			l := s.Implicit("deq", s.DenseCell("cell", hidden, layers.Tanh), layers.ImplicitConfig{Forward: WrapSolver(deq.Anderson{}), Stop: stop})
			if imp == nil {
				imp = l
			}
			return layers.Sequential{
				s.Dense("inject", in, hidden, layers.Identity, layers.NoBias()), l,
				s.Dense("head", hidden, out, layers.Identity),
			}.Fwd(x)
		}})
	if _, err := net.Build(G.NewGraph(), 1, false); err != nil {
		t.Fatal(err)
	}
	m := Model{Net: net, Input: []int{in}, Output: []int{out}, Float32: dt == tensor.Float32, Budgeted: true, Stop: stop}
	if c, ok := imp.Contraction(); ok {
		m.Mu, m.MuNorm = c.Mu, c.Norm
	}
	return m
}

// start serves m on a loopback port and returns its base URL; the server
// is shut down when the test ends.
func start(t testing.TB, m Model, cfg Config) (*Server, string) {
	t.Helper()
	s, base, stop := launch(t, m, cfg)
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
	return s, base
}

// launch serves m on a loopback port and returns the server, its base
// URL and the function that shuts it down and waits for Serve to return.
func launch(t testing.TB, m Model, cfg Config) (*Server, string, func() error) {
	t.Helper()
	s, err := New(m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	stop := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := s.Shutdown(ctx)
		if serr := <-done; err == nil {
			err = serr
		}
		return err
	}
	return s, "http://" + l.Addr().String(), stop
}

// inputsOf draws n inputs of dimension d.
func inputsOf(rng *rand.Rand, n, d int) [][]float64 {
	x := make([][]float64, n)
	for i := range x {
		x[i] = make([]float64, d)
		for j := range x[i] {
			x[i][j] = rng.NormFloat64()
		}
	}
	return x
}

// post sends body to url and returns the status code and response body.
func post(t testing.TB, client *http.Client, url string, body []byte) (int, []byte) {
	t.Helper()
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// predict posts a request and decodes a 200 answer.
func predict(t testing.TB, client *http.Client, base string, req PredictRequest) PredictResponse {
	t.Helper()
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	code, b := post(t, client, base+"/v1/predict", body)
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, b)
	}
	var resp PredictResponse
	if err := json.Unmarshal(b, &resp); err != nil {
		t.Fatal(err)
	}
	return resp
}
