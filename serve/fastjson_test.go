package serve

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
)

// FuzzFastDecode: whatever fastDecode accepts, encoding/json accepts too,
// into the same request; and it accepts the common form.
func FuzzFastDecode(f *testing.F) {
	for _, s := range []string{
		`{"inputs": [[1, 2.5, -3e-2], [0, -0, 1E+3]], "budget": {"iterations": 4, "tol": 1e-3, "max_iter": 9, "deadline_ms": 2.5}}`,
		`{"budget":{"tol":0.1},"inputs":[[]]}`, `{"inputs": []}`, `{}`, `{"inputs": [[1]], "inputs": [[2]]}`, `{"Inputs": [[1]]}`,
		`{"inputs": [[01]]}`, `{"inputs": [[1.]]}`, `{"inputs": [[1e999]]}`, `{"budget": {"iterations": 1.0}}`, `{"budget": null}`,
		`{"inputs": [[1]]} x`, `{"inputs": [[1]],}`, ` {"inputs" : [ [ 1 , 2 ] ] } `, `{"budget": {"iterations": 99999999999999999999}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, err := fastDecode(b)
		if err != nil {
			return
		}
		slow, err := decodeJSON(b)
		if err != nil {
			t.Fatalf("fastDecode accepted %q, encoding/json refuses it: %v", b, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: fastDecode gives %+v, encoding/json %+v", b, fast, slow)
		}
	})
}

// TestFastDecodeTakesTheCommonForm: what clients send (encoding/json's
// own output, compact or indented) is on the fast path.
func TestFastDecodeTakesTheCommonForm(t *testing.T) {
	req := PredictRequest{Inputs: inputsOf(rand.New(rand.NewPCG(1, 2)), 3, 5), Budget: &Budget{Tol: 1e-3, MaxIter: 7, DeadlineMs: 1.5}}
	compact, _ := json.Marshal(req)
	indented, _ := json.MarshalIndent(req, "", "  ")
	for _, b := range [][]byte{compact, indented, bytes.ReplaceAll(compact, []byte(`,"budget":{"tol":0.001,"max_iter":7,"deadline_ms":1.5}`), nil)} {
		got, err := fastDecode(b)
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		want, _ := decodeJSON(b)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %+v, want %+v", b, got, want)
		}
	}
}

// BenchmarkDecode compares the fast path with encoding/json on a request
// of one 784-value input.
func BenchmarkDecode(b *testing.B) {
	body, _ := json.Marshal(PredictRequest{Inputs: inputsOf(rand.New(rand.NewPCG(1, 2)), 1, 784)})
	b.Run("fast", func(b *testing.B) {
		for range b.N {
			if _, err := fastDecode(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for range b.N {
			if _, err := decodeJSON(body); err != nil {
				b.Fatal(err)
			}
		}
	})
}
