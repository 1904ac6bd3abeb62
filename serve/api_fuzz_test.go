package serve

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"gorgonia.org/tensor"
)

// FuzzDecodeRequest: whatever the body, decoding never panics; it gives
// either a request every part of which the server can use (shapes, finite
// values, a budget in range) or a 4xx error on one line.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"inputs": [[1, 2, 3]]}`, `{"inputs": [[1, 2, 3]], "budget": {"iterations": 4}}`,
		`{"inputs": [[1, 2, 3], [0, 0, 0]], "budget": {"tol": 1e-3, "max_iter": 9, "deadline_ms": 2.5}}`,
		`{"inputs": [[1e999, 2, 3]]}`, `{"inputs": [[1, 2]]}`, `{"inputs": null}`, `{"budget": {}}`, `[]`, ``, `{"inputs": [[1,2,3]]} x`,
	} {
		f.Add([]byte(s))
	}
	m := testModel(f, 3, 4, 2, tensor.Float32)
	cfg, err := Config{MaxSamples: 4, MaxIterations: 50}.resolved()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeRequest(bytes.NewReader(body), m, cfg)
		if err != nil {
			var he *httpError
			if !errors.As(err, &he) || he.code < 400 || he.code >= 500 || bytes.ContainsRune([]byte(he.msg), '\n') {
				t.Fatalf("error %v (%T)", err, err)
			}
			return
		}
		if len(req.Inputs) == 0 || len(req.Inputs) > cfg.MaxSamples {
			t.Fatalf("%d inputs accepted", len(req.Inputs))
		}
		for _, x := range req.Inputs {
			if len(x) != 3 {
				t.Fatalf("input of %d values accepted", len(x))
			}
			for _, v := range x {
				if math.IsNaN(v) || math.Abs(v) > math.MaxFloat32 {
					t.Fatalf("value %v accepted", v)
				}
			}
		}
		if b := req.Budget; b != nil && (b.Iterations > cfg.MaxIterations || b.MaxIter > cfg.MaxIterations || !(b.Tol >= 0 && b.Tol <= 1) || b.DeadlineMs < 0) {
			t.Fatalf("budget %+v accepted", b)
		}
	})
}
