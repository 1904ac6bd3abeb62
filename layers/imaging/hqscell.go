package imaging

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/deq"
	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/layers/conv"
)

// DefaultHQSBeta is the initial weight β of the HQS cell: the paper's code
// (deepinv's HQS) starts its step γ at 4 in the proximal step
// argmin_u γ/2‖Au − x‖² + ½‖u − y‖², which is our step with β = 1/γ
// (InitialStep sets another γ).
const DefaultHQSBeta = 0.25

// HQSCell is the plug-and-play half-quadratic-splitting operator of the
// deblurring workload (Liu et al. 2025, case study 1, their best model):
//
//	G(y, x) = D_θ((AᵀA + βI)⁻¹(Aᵀx + βy))
//
// an exact proximal step on the data term ½‖Ay − x‖² (Blur.HQSStep)
// followed by the same learned denoiser D_θ as PGDCell's, with β = e^ρ
// learned (ρ is the parameter, so β stays positive). The injection is Aᵀx
// (B, H·W), computed once outside the solve, and the state y the image
// estimate (B, H·W). In y the step is βM, M = (AᵀA + βI)⁻¹, whose
// eigenvalues β/(|â(f)|² + β) lie in (0, 1]: Lip_y(G) ≤ Lip(D), near 1 in
// the modes A nearly annihilates, so there only the denoiser contracts.
// Its kernels evaluate G and J_G(y)ᵀv = βM·J_D(u)ᵀv without graphs.
//
// With Lambda = λ > 0 the data step is Blur.HQSStepTikhonov's,
// (AᵀA + (β+λ)I)⁻¹(Aᵀx + βy), PGDCell's Tikhonov term in HQS's exact
// step: in y it contracts every mode by at least β/(β+λ), and with the
// identity as denoiser the iteration converges to the Tikhonov solution
// (AᵀA + λI)⁻¹Aᵀx. With λ = 0 (the paper's form) that limit is the
// unregularised inverse, whose noise an untrained denoiser cannot hold
// back over 100 iterations.
type HQSCell struct {
	pnp
	// LogBeta is ρ = log β, (1, 1), initialised to log DefaultHQSBeta, or
	// to −log γ for InitialStep(γ).
	LogBeta *G.Node
	// Lambda is the fixed Tikhonov weight λ ≥ 0 of the data step (zero:
	// none). Set it before the cell is used.
	Lambda float64
}

var _ layers.Cell = (*HQSCell)(nil)

// NewHQSCell creates the cell for the operator a (made by NewBlur) and the
// denoiser d (built in the same scope, on a's image size); its own
// parameter is name.logbeta, initialised to log DefaultHQSBeta or to
// −log γ for InitialStep(γ).
func NewHQSCell(s *layers.Scope, name string, a *Blur, d *conv.ResCNN, opts ...CellOpt) *HQSCell {
	c := &HQSCell{pnp: newPnP(s, "HQSCell", name, a, d)}
	if c.err != nil {
		return c
	}
	if a.hqs32 == nil || a.hqs64 == nil {
		c.err = s.Fail(fmt.Errorf("imaging: HQSCell %q: the blur has no HQS tables; make it with NewBlur", name))
		return c
	}
	step, err := initialStep("HQSCell", name, DefaultHQSStep, math.MaxFloat64, opts)
	if err != nil {
		c.err = s.Fail(err)
		return c
	}
	c.LogBeta = s.Param(name+".logbeta", tensor.Shape{1, 1}, layers.Constant(-math.Log(step)))
	c.err = s.Err()
	return c
}

// Beta returns the current β = e^ρ (NaN when the cell failed to build).
func (c *HQSCell) Beta() float64 {
	if c.err != nil {
		return math.NaN()
	}
	v, err := layers.Floats64(c.LogBeta.Value())
	if err != nil || len(v) != 1 {
		return math.NaN()
	}
	return math.Exp(v[0])
}

// Params implements Cell: ρ = log β, then the denoiser's weights and biases.
func (c *HQSCell) Params() G.Nodes { return c.params(c.LogBeta) }

// Apply implements Cell: u = (AᵀA + βI)⁻¹(inj + βy), then D(u).
func (c *HQSCell) Apply(y *G.Node, inj G.Nodes) (*G.Node, error) {
	if c.err != nil {
		return nil, c.err
	}
	if len(inj) != 1 {
		return nil, fmt.Errorf("imaging: HQSCell takes one injection, got %d", len(inj))
	}
	u, err := c.Blur.HQSStepTikhonov(y, inj[0], c.LogBeta, c.Lambda)
	if err != nil {
		return nil, err
	}
	return c.Denoiser.Fwd(u)
}

// Kernel64 implements Cell.
func (c *HQSCell) Kernel64(inj []tensor.Shape) (layers.Kernel[float64], error) {
	return kernelFor(&c.pnp, inj, "float64", func(int) dataStep[float64] { return &hqsStep[float64]{b: c.Blur, lambda: c.Lambda} })
}

// Kernel32 implements Cell.
func (c *HQSCell) Kernel32(inj []tensor.Shape) (layers.Kernel[float32], error) {
	return kernelFor(&c.pnp, inj, "float32", func(int) dataStep[float32] { return &hqsStep[float32]{b: c.Blur, lambda: c.Lambda} })
}

// hqsStep is u = (AᵀA + (β+λ)I)⁻¹(b + βy) on flat buffers.
type hqsStep[T deq.Float] struct {
	b            *Blur
	beta, lambda float64
	scratch      []T // (β/(β+λ))y, with λ > 0
}

func (h *hqsStep[T]) bind(rho T) error {
	h.beta = math.Exp(float64(rho))
	if !(h.beta > 0) || math.IsInf(h.beta, 1) {
		return fmt.Errorf("imaging: HQS weight β = e^%v is not a positive finite number", rho)
	}
	return nil
}

func (h *hqsStep[T]) step(u, y, b []T) {
	if h.lambda > 0 && len(h.scratch) != len(y) {
		h.scratch = make([]T, len(y))
	}
	hqsTikhonov(h.b, u, y, b, h.scratch, h.beta, h.lambda)
}

// vjp: βMw (M is symmetric).
func (h *hqsStep[T]) vjp(out, w []T) { hqsTikhonovVJPy(h.b, out, w, h.beta, h.lambda) }
