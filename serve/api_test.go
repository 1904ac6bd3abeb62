package serve

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"gorgonia.org/tensor"
)

// TestBadRequestsAreRefused: malformed JSON, unknown fields, wrong
// shapes, non-finite or out-of-range values, out-of-range budgets and
// oversized bodies are each a 4xx with a one-line JSON message, and the
// server answers a valid request after each of them.
func TestBadRequestsAreRefused(t *testing.T) {
	m := testModel(t, 4, 8, 3, tensor.Float32)
	_, base := start(t, m, Config{MaxBatch: 4, MaxSamples: 3, MaxBodyBytes: 4096, MaxIterations: 100})
	client := &http.Client{}
	ok := `{"inputs": [[1, 2, 3, 4]]}`
	big := `{"inputs": [[` + strings.Repeat("1,", 3000) + `1]]}`
	cases := []struct {
		name, body string
		code       int
		want       string
	}{
		{"malformed", `{"inputs": [[1, 2, 3, 4]]`, 400, "malformed"},
		{"not json", `hello`, 400, "malformed"},
		{"trailing data", ok + ` {}`, 400, "after the JSON object"},
		{"unknown field", `{"inputs": [[1, 2, 3, 4]], "temperature": 1}`, 400, "unknown field"},
		{"unknown budget field", `{"inputs": [[1, 2, 3, 4]], "budget": {"iters": 3}}`, 400, "unknown field"},
		{"wrong type", `{"inputs": [["a", 2, 3, 4]]}`, 400, "malformed"},
		{"no inputs", `{"inputs": []}`, 400, "no inputs"},
		{"missing inputs", `{}`, 400, "no inputs"},
		{"too many", `{"inputs": [[1,2,3,4],[1,2,3,4],[1,2,3,4],[1,2,3,4]]}`, 400, "at most 3"},
		{"short input", `{"inputs": [[1, 2, 3]]}`, 400, "has 3 values; the model takes 4"},
		{"ragged", `{"inputs": [[1, 2, 3, 4], [1, 2, 3, 4, 5]]}`, 400, "input 1 has 5 values"},
		{"NaN literal", `{"inputs": [[NaN, 2, 3, 4]]}`, 400, "malformed"},
		{"overflow", `{"inputs": [[1e999, 2, 3, 4]]}`, 400, "malformed"},
		{"beyond float32", `{"inputs": [[1e39, 2, 3, 4]]}`, 400, "must be finite"},
		{"iterations 0 with nothing", `{"inputs": [[1, 2, 3, 4]], "budget": {}}`, 400, "empty budget"},
		{"negative iterations", `{"inputs": [[1, 2, 3, 4]], "budget": {"iterations": -1}}`, 400, "out of range"},
		{"too many iterations", `{"inputs": [[1, 2, 3, 4]], "budget": {"iterations": 101}}`, 400, "out of range"},
		{"tol too large", `{"inputs": [[1, 2, 3, 4]], "budget": {"tol": 2}}`, 400, "out of range"},
		{"negative tol", `{"inputs": [[1, 2, 3, 4]], "budget": {"tol": -1e-3}}`, 400, "out of range"},
		{"max_iter too large", `{"inputs": [[1, 2, 3, 4]], "budget": {"max_iter": 1000}}`, 400, "out of range"},
		{"deadline too long", `{"inputs": [[1, 2, 3, 4]], "budget": {"deadline_ms": 1e9}}`, 400, "out of range"},
		{"negative deadline", `{"inputs": [[1, 2, 3, 4]], "budget": {"deadline_ms": -5}}`, 400, "out of range"},
		{"iterations and tol", `{"inputs": [[1, 2, 3, 4]], "budget": {"iterations": 3, "tol": 1e-3}}`, 400, "cannot be combined"},
		{"oversized body", big, 413, "over 4096 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := post(t, client, base+"/v1/predict", []byte(c.body))
			var e errorBody
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("status %d, body %q is not a JSON error", code, body)
			}
			if code != c.code || !strings.Contains(e.Error, c.want) || strings.Contains(e.Error, "\n") {
				t.Errorf("status %d, error %q; want %d and one line containing %q", code, e.Error, c.code, c.want)
			}
			if code, body := post(t, client, base+"/v1/predict", []byte(ok)); code != 200 {
				t.Fatalf("a valid request after it: %d %s", code, body)
			}
		})
	}
	resp, err := client.Get(base + "/v1/predict")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /v1/predict: %d", resp.StatusCode)
	}
}

// TestBudgetOnAModelWithoutSolves: a model that is not Budgeted refuses
// budgets and answers without them.
func TestBudgetOnAModelWithoutSolves(t *testing.T) {
	m := testModel(t, 4, 8, 3, tensor.Float64)
	m.Budgeted = false
	_, base := start(t, m, Config{})
	client := &http.Client{}
	code, body := post(t, client, base+"/v1/predict", []byte(`{"inputs": [[1, 2, 3, 4]], "budget": {"iterations": 2}}`))
	if code != 400 || !strings.Contains(string(body), "leave out the budget") {
		t.Errorf("%d %s", code, body)
	}
	resp := predict(t, client, base, PredictRequest{Inputs: inputsOf(rand.New(rand.NewPCG(1, 1)), 2, 4)})
	if len(resp.Outputs) != 2 || len(resp.Outputs[0]) != 3 {
		t.Errorf("outputs %v", resp.Outputs)
	}
}
