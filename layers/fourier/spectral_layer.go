package fourier

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/implicit-ml/implicit/layers"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// SpectralConv is the spectral convolution of a Fourier layer (Li et al.
// 2021) on S×S grids: it keeps the Fourier modes kx ∈ {0…M−1} ∪
// {S−M…S−1} and ky ∈ {0…M−1} of each input channel, multiplies each mode
// by a learned complex In×Out matrix and transforms back (the inverse
// real FFT of the truncated half spectrum). The transforms are products
// with truncated DFT matrices, in real arithmetic; the gradient is
// hand-written (the transposed transform and a per-mode weight product)
// and checked against finite differences.
//
// Shapes: fields are channel-last, (B, S·S·C) with node (x, y) of channel
// c at (x·S + y)·C + c. Fwd maps (B, S²·In) to (B, S²·Out). W is
// (2, 2M², In, Out): W[0] holds the real parts, W[1] the imaginary parts,
// mode index j·M + ky with j the position of kx in the list above.
type SpectralConv struct {
	W                    *G.Node
	Size, Modes, In, Out int
	err                  error
}

// SpectralInit draws the real and imaginary parts of the spectral weights
// from U(−a, a) with a = gain/√(In·Out). With gain 0.5 each mode's
// complex C×C matrix has a spectral norm of about 0.8/√C (random-matrix
// estimate 2√C·σ), so a fresh Fourier cell stays contractive.
func SpectralInit(gain float64) layers.Init {
	return func(rng *rand.Rand, shape tensor.Shape, out []float64) {
		a := gain
		if len(shape) == 4 {
			a /= math.Sqrt(float64(shape[2] * shape[3]))
		}
		for i := range out {
			out[i] = a * (2*rng.Float64() - 1)
		}
	}
}

// SpectralConv creates the spectral convolution of S×S grids (size S),
// keeping modes M per direction, from in to out channels, with parameter
// name.W initialised by SpectralInit(0.5). It needs 1 ≤ M ≤ S/2.
func NewSpectralConv(s *layers.Scope, name string, size, modes, in, out int) *SpectralConv {
	c := &SpectralConv{Size: size, Modes: modes, In: in, Out: out}
	if c.err = spectralCheck(name, size, modes, in, out); c.err != nil {
		s.Fail(c.err)
		return c
	}
	c.W = s.Param(name+".W", spectralGeom{size, modes, in, out}.wShape(), SpectralInit(0.5))
	c.err = s.Err()
	return c
}

func spectralCheck(name string, size, modes, in, out int) error {
	switch {
	case size < 2 || modes < 1 || 2*modes > size:
		return fmt.Errorf("fourier: spectral convolution %q on %d×%d grids cannot keep %d modes; want 1 ≤ modes ≤ size/2", name, size, size, modes)
	case in <= 0 || out <= 0:
		return fmt.Errorf("fourier: spectral convolution %q needs positive channel counts, got %d and %d", name, in, out)
	}
	return nil
}

func (c *SpectralConv) geom() spectralGeom { return spectralGeom{c.Size, c.Modes, c.In, c.Out} }

// Fwd implements Layer: K x.
func (c *SpectralConv) Fwd(x *G.Node) (*G.Node, error) { return c.Apply(x, nil) }

// Apply builds K x + add in one op (add (B, S²·Out) may be nil).
func (c *SpectralConv) Apply(x, add *G.Node) (*G.Node, error) {
	if c.err != nil {
		return nil, c.err
	}
	return spectralConv(c.geom(), x, c.W, add)
}

// Params implements Layer.
func (c *SpectralConv) Params() G.Nodes { return G.Nodes{c.W} }
