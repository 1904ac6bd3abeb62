package datasets

import "testing"

func TestParitySequences(t *testing.T) {
	a, b := ParitySequences(50, 16, 7), ParitySequences(80, 16, 7)
	for i := range a.Bits {
		if a.Bits[i] != b.Bits[i] {
			t.Fatal("string k depends on how many strings were drawn")
		}
	}
	if c := ParitySequences(50, 16, 8); string(c.Bits) == string(a.Bits) {
		t.Fatal("seeds 7 and 8 drew the same strings")
	}
	x, y := make([]float32, 16), make([]float32, 32)
	ones := 0
	for k := 0; k < a.N; k++ {
		a.Sample(k, x, y)
		for i := 0; i < 16; i++ {
			want := a.Parity(k, i)
			if y[2*i+int(want)] != 1 || y[2*i+1-int(want)] != 0 || (x[i] == 1) != (a.Bits[k*16+i] == 1) {
				t.Fatalf("string %d position %d: x %v, y %v, parity %d", k, i, x[i], y[2*i:2*i+2], want)
			}
		}
		for _, bit := range a.Bits[k*16 : (k+1)*16] {
			ones += int(bit)
		}
	}
	if ones < 300 || ones > 500 {
		t.Fatalf("%d ones in 800 bits", ones)
	}
}
