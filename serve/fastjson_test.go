package serve

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
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
// of one 784-value input, written from float64 values (17 digits each) and
// from float32 ones (at most 9: the exact path), and with the binary body.
func BenchmarkDecode(b *testing.B) {
	x := inputsOf(rand.New(rand.NewPCG(1, 2)), 1, 784)
	body, _ := json.Marshal(PredictRequest{Inputs: x})
	x32 := make([]float32, len(x[0]))
	for i, v := range x[0] {
		x32[i] = float32(v)
	}
	body32, _ := json.Marshal(map[string]any{"inputs": [][]float32{x32}})
	bin, _ := (&PredictRequest{Inputs: x}).MarshalBinary()
	b.Run("fast-float32-text", func(b *testing.B) {
		for range b.N {
			if _, err := fastDecode(body32); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("binary", func(b *testing.B) {
		for range b.N {
			var r PredictRequest
			if err := r.UnmarshalBinary(bin); err != nil {
				b.Fatal(err)
			}
		}
	})
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

// TestFastFloatMatchesParseFloat: a number read on the exact path is the
// float64 strconv.ParseFloat gives, bit for bit — for the shortest forms
// of float32 and float64 values, JSON's own output, and digit strings
// around the path's limits (15 digits, 10^±22, leading and inner zeros).
func TestFastFloatMatchesParseFloat(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var texts []string
	for range 20000 {
		x := rng.NormFloat64() * math.Pow(10, float64(rng.IntN(50)-25))
		texts = append(texts, strconv.FormatFloat(float64(float32(x)), 'g', -1, 32), strconv.FormatFloat(x, 'g', -1, 64),
			strconv.FormatFloat(x, 'f', rng.IntN(20), 64), strconv.FormatFloat(x, 'e', rng.IntN(20), 64))
		digits := make([]byte, 1+rng.IntN(18))
		for i := range digits {
			digits[i] = byte('0' + rng.IntN(10))
		}
		texts = append(texts, "0."+string(digits), "1"+string(digits)+"e"+strconv.Itoa(rng.IntN(60)-30))
	}
	texts = append(texts, "0", "-0", "0.0", "-0.0e5", "0e999", "1e22", "1e23", "1e-22", "1e-23", "123456789012345e7", "1234567890123456",
		"0.000000000000000000000001", "9007199254740993", "100000000000000000000000", "1.000000000000000000001")
	exact := 0
	for _, text := range texts {
		want, err := strconv.ParseFloat(text, 64)
		p := fastParser{b: []byte(text)}
		_, _, v, ex, ok := p.number()
		if !ok || p.i != len(text) {
			t.Fatalf("%q: not read as a number", text)
		}
		if ex {
			exact++
			if err != nil || math.Float64bits(v) != math.Float64bits(want) {
				t.Errorf("%q: exact path %v (%016x), strconv %v (%016x, %v)", text, v, math.Float64bits(v), want, math.Float64bits(want), err)
			}
		}
	}
	if exact < len(texts)/4 {
		t.Errorf("only %d of %d numbers on the exact path", exact, len(texts))
	}
}
