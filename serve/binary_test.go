package serve

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"gorgonia.org/tensor"
)

// postBinary sends a binary body to /v1/predict.
func postBinary(t testing.TB, client *http.Client, base string, body []byte) (int, []byte) {
	t.Helper()
	resp, err := client.Post(base+"/v1/predict", BinaryContentType, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b.Bytes()
}

// TestBinaryRequestAnswersAsJSON: a binary body gets the answer its JSON
// twin gets (inputs rounded to float32, which the model computes in
// anyway), its budget included.
func TestBinaryRequestAnswersAsJSON(t *testing.T) {
	m := testModel(t, 4, 8, 3, tensor.Float32)
	_, base := start(t, m, Config{MaxBatch: 1})
	client := &http.Client{}
	for _, budget := range []*Budget{nil, {Iterations: 3}, {Tol: 1e-2, MaxIter: 20, DeadlineMs: 1000}} {
		req := PredictRequest{Inputs: [][]float64{{0.1, -2, 3.5, 1e-3}, {0, 0, 0, 0}}, Budget: budget}
		for _, x := range req.Inputs {
			for j := range x {
				x[j] = float64(float32(x[j]))
			}
		}
		want := predict(t, client, base, req)
		body, err := req.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		code, b := postBinary(t, client, base, body)
		if code != 200 {
			t.Fatalf("budget %+v: status %d: %s", budget, code, b)
		}
		var got PredictResponse
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Outputs, want.Outputs) {
			t.Errorf("budget %+v: binary outputs %v, JSON's %v", budget, got.Outputs, want.Outputs)
		}
		for i := range got.Samples {
			if g, w := got.Samples[i], want.Samples[i]; g.Iterations != w.Iterations || g.Status != w.Status {
				t.Errorf("budget %+v, sample %d: binary %+v, JSON %+v", budget, i, g, w)
			}
		}
	}
}

// binaryBody is a binary body with header fields n, d and the values.
func binaryBody(magic string, n, d uint32, values ...float32) []byte {
	b := make([]byte, BinaryHeaderBytes)
	copy(b, magic)
	binary.LittleEndian.PutUint32(b[4:], n)
	binary.LittleEndian.PutUint32(b[8:], d)
	for _, v := range values {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

// withHeader returns b with the uint32 or float64 at off set.
func withHeader(b []byte, off int, v any) []byte {
	b = bytes.Clone(b)
	switch v := v.(type) {
	case uint32:
		binary.LittleEndian.PutUint32(b[off:], v)
	case float64:
		binary.LittleEndian.PutUint64(b[off:], math.Float64bits(v))
	}
	return b
}

// TestBadBinaryRequestsAreRefused: a binary body that is short, of
// another format, of a length its header does not announce, of another
// shape, with non-finite values, too many inputs or a budget out of
// range is a 4xx with a one-line JSON message, and the server answers
// the next request.
func TestBadBinaryRequestsAreRefused(t *testing.T) {
	m := testModel(t, 4, 8, 3, tensor.Float32)
	_, base := start(t, m, Config{MaxBatch: 4, MaxSamples: 3, MaxBodyBytes: 4096, MaxIterations: 100})
	client := &http.Client{}
	ok := binaryBody(binaryMagic, 1, 4, 1, 2, 3, 4)
	inf := float32(math.Inf(1))
	cases := []struct {
		name string
		body []byte
		code int
		want string
	}{
		{"empty", nil, 400, "header alone is 40"},
		{"short header", ok[:39], 400, "header alone is 40"},
		{"JSON sent as binary", []byte(`{"inputs": [[1, 2, 3, 4]], "budget": {"iterations": 3}}`), 400, `not "IF32"`},
		{"truncated values", ok[:len(ok)-1], 400, "announces 1 inputs of 4 float32 values"},
		{"extra values", append(bytes.Clone(ok), 0, 0, 0, 0), 400, "announces 1 inputs of 4"},
		{"header lies about n", withHeader(ok, 4, uint32(2)), 400, "announces 2 inputs"},
		{"huge n·d", withHeader(withHeader(ok, 4, uint32(math.MaxUint32)), 8, uint32(math.MaxUint32)), 400, "announces 4294967295 inputs"},
		{"inputs of 0 values", binaryBody(binaryMagic, 1<<30, 0), 400, "inputs of 0 values"},
		{"no inputs", binaryBody(binaryMagic, 0, 4), 400, "no inputs"},
		{"wrong shape", binaryBody(binaryMagic, 2, 2, 1, 2, 3, 4), 400, "input 0 has 2 values; the model takes 4"},
		{"too many", binaryBody(binaryMagic, 4, 4, make([]float32, 16)...), 400, "at most 3"},
		{"NaN", binaryBody(binaryMagic, 1, 4, 1, float32(math.NaN()), 3, 4), 400, "input 0 value 1 is NaN"},
		{"Inf", binaryBody(binaryMagic, 1, 4, 1, 2, 3, inf), 400, "input 0 value 3 is +Inf"},
		{"reserved", withHeader(ok, 20, uint32(1)), 400, "reserved field is 1"},
		{"iterations out of range", withHeader(ok, 12, uint32(101)), 400, "iterations 101 is out of range"},
		{"iterations and tol", withHeader(withHeader(ok, 12, uint32(3)), 24, 1e-3), 400, "cannot be combined"},
		{"NaN tol", withHeader(ok, 24, math.NaN()), 400, "tol NaN is out of range"},
		{"negative deadline", withHeader(ok, 32, -1.0), 400, "deadline_ms -1 is out of range"},
		{"oversized body", binaryBody(binaryMagic, 1, 4, make([]float32, 1100)...), 413, "over 4096 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := postBinary(t, client, base, c.body)
			var e errorBody
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("status %d, body %q is not a JSON error", code, body)
			}
			if code != c.code || !strings.Contains(e.Error, c.want) || strings.Contains(e.Error, "\n") {
				t.Errorf("status %d, error %q; want %d and one line containing %q", code, e.Error, c.code, c.want)
			}
			if code, body := postBinary(t, client, base, ok); code != 200 {
				t.Fatalf("a valid request after it: %d %s", code, body)
			}
		})
	}
}

// TestMarshalBinaryRefuses: what the header cannot carry is an error on
// the client's side.
func TestMarshalBinaryRefuses(t *testing.T) {
	for _, r := range []PredictRequest{
		{}, {Inputs: [][]float64{{}}}, {Inputs: [][]float64{{1, 2}, {3}}},
		{Inputs: [][]float64{{1}}, Budget: &Budget{Iterations: -1}}, {Inputs: [][]float64{{1}}, Budget: &Budget{MaxIter: math.MaxUint32 + 1}},
	} {
		if b, err := r.MarshalBinary(); err == nil {
			t.Errorf("%+v encoded to %d bytes", r, len(b))
		}
	}
}
