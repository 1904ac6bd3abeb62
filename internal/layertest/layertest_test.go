package layertest

import "testing"

// TestRelDiffCatchesZeroGradients: an all-zero gradient against a
// non-zero reference (or the reverse) is a full mismatch, never skipped.
func TestRelDiffCatchesZeroGradients(t *testing.T) {
	ref := [][]float64{{1, 2}, {3, -4}}
	for _, c := range []struct {
		name string
		a, b [][]float64
		want float64
	}{
		{"equal", ref, ref, 0},
		{"computed all zero", [][]float64{{1, 2}, {0, 0}}, ref, 1},
		{"reference all zero", ref, [][]float64{{1, 2}, {0, 0}}, 1},
		{"both zero", [][]float64{{0}}, [][]float64{{0}}, 0},
		{"missing gradient", ref[:1], ref, 1},
		{"small error", [][]float64{{1, 2}, {3, -4.0001}}, ref, 2e-5},
	} {
		if got := RelDiff(c.a, c.b); !(got >= c.want*0.99 && got <= c.want*1.01+1e-15) {
			t.Errorf("%s: RelDiff = %v, want %v", c.name, got, c.want)
		}
	}
}
