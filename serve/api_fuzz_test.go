package serve

import (
	"bytes"
	"errors"
	"math"
	"reflect"
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
		req, err := decodeRequest(bytes.NewReader(body), -1, false, new([]byte), m, cfg)
		checkDecoded(t, req, err, 3, cfg)
	})
}

// FuzzDecodeBinary: whatever the binary body (BinaryContentType), decoding
// never panics; it gives either a request every part of which the server
// can use or a 4xx error on one line; and what it accepts, encoded again,
// is as long as the body and decodes to the same request.
func FuzzDecodeBinary(f *testing.F) {
	for _, r := range []PredictRequest{
		{Inputs: [][]float64{{1, 2, 3}}}, {Inputs: [][]float64{{1, 2, 3}, {0, -1, 1e30}}, Budget: &Budget{Tol: 1e-3, MaxIter: 9, DeadlineMs: 2.5}},
		{Inputs: [][]float64{{1, 2, 3}}, Budget: &Budget{Iterations: 4}}, {Inputs: [][]float64{{1, 2}}}, {Inputs: [][]float64{{1, math.NaN(), 3}}},
		{Inputs: [][]float64{{1, 2, 3}, {4, 5, 6}, {7, 8, 9}, {1, 1, 1}, {2, 2, 2}}}, {Inputs: [][]float64{{1, 2, 3}}, Budget: &Budget{Iterations: 99}},
	} {
		b, err := r.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)-1])
	}
	f.Add([]byte(binaryMagic))
	f.Add([]byte(`{"inputs": [[1, 2, 3]]}`))
	m := testModel(f, 3, 4, 2, tensor.Float32)
	cfg, err := Config{MaxSamples: 4, MaxIterations: 50}.resolved()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeRequest(bytes.NewReader(body), int64(len(body)), true, new([]byte), m, cfg)
		if !checkDecoded(t, req, err, 3, cfg) {
			return
		}
		again, err := req.MarshalBinary()
		if err != nil || len(again) != len(body) {
			t.Fatalf("a body of %d bytes accepted as %+v, which encodes to %d bytes: %v", len(body), req, len(again), err)
		}
		back, err := decodeRequest(bytes.NewReader(again), -1, true, new([]byte), m, cfg)
		if err != nil || !reflect.DeepEqual(back, req) {
			t.Fatalf("%+v encoded and decoded again: %+v, %v", req, back, err)
		}
	})
}

// checkDecoded fails t unless decodeRequest gave a one-line 4xx error or a
// request the server can use (inputs of d finite float32 values within
// the limits, a budget in range); it reports whether it gave a request.
func checkDecoded(t *testing.T, req *PredictRequest, err error, d int, cfg Config) bool {
	t.Helper()
	if err != nil {
		var he *httpError
		if !errors.As(err, &he) || he.code < 400 || he.code >= 500 || bytes.ContainsRune([]byte(he.msg), '\n') {
			t.Fatalf("error %v (%T)", err, err)
		}
		return false
	}
	if len(req.Inputs) == 0 || len(req.Inputs) > cfg.MaxSamples {
		t.Fatalf("%d inputs accepted", len(req.Inputs))
	}
	for _, x := range req.Inputs {
		if len(x) != d {
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
	return true
}
