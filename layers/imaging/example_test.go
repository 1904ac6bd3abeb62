package imaging_test

import (
	"fmt"
	"math"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/layers"
	"github.com/implicit-ml/implicit/layers/conv"
	"github.com/implicit-ml/implicit/layers/imaging"
)

// ExampleBlur_HQSStep blurs a bright square with the workload's
// camera-shake kernel and takes one HQS data step from y = Aᵀx: with a
// small β the step inverts most of the blur (there is no noise here).
func ExampleBlur_HQSStep() {
	a, err := imaging.NewBlur("shake", 28, 28)
	if err != nil {
		fmt.Println(err)
		return
	}
	img := make([]float64, 28*28)
	for i := 8; i < 20; i++ {
		for j := 10; j < 18; j++ {
			img[i*28+j] = 1
		}
	}
	g := G.NewGraph()
	clean := G.NewTensor(g, tensor.Float64, 2, G.WithShape(1, 784), G.WithName("img"), G.WithValue(tensor.New(tensor.WithShape(1, 784), tensor.WithBacking(img))))
	logBeta := G.NewTensor(g, tensor.Float64, 2, G.WithShape(1, 1), G.WithName("rho"), G.WithValue(tensor.New(tensor.WithShape(1, 1), tensor.WithBacking([]float64{math.Log(1e-3)}))))
	x, _ := a.Apply(clean)
	atx, _ := a.ApplyT(x)
	z, err := a.HQSStep(atx, atx, logBeta)
	if err != nil {
		fmt.Println(err)
		return
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		fmt.Println(err)
		return
	}
	rms := func(v []float64) float64 {
		s := 0.0
		for i := range v {
			s += (v[i] - img[i]) * (v[i] - img[i])
		}
		return math.Sqrt(s / float64(len(v)))
	}
	fmt.Printf("RMS error: measurement %.2f, after one HQS step %.2f\n", rms(x.Value().Data().([]float64)), rms(z.Value().Data().([]float64)))
	// Output:
	// RMS error: measurement 0.07, after one HQS step 0.01
}

// ExampleNewHQSCell builds the HQS operator with a Lipschitz-bounded
// residual denoiser, as the implicit deblurring model does.
func ExampleNewHQSCell() {
	a, err := imaging.NewBlur("shake", 28, 28)
	if err != nil {
		fmt.Println(err)
		return
	}
	s := layers.NewScope(G.NewGraph(), tensor.Float32, rand.New(rand.NewPCG(1, 2)))
	d := conv.NewResCNN(s, "hqs.D", 28, 28, 8, 3, layers.ReLU, conv.ResLipschitz(1))
	cell := imaging.NewHQSCell(s, "hqs", a, d)
	if err := cell.Err(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("β = %.2f; %d parameters: log β and the denoiser's %d\n", cell.Beta(), layers.CountParams(cell.Params()), layers.CountParams(d.Params()))
	// Output:
	// β = 0.25; 738 parameters: log β and the denoiser's 737
}

// ExampleInitialStep starts both plug-and-play cells at the data step
// 1/2 (PGD's γ; HQS's β = 2) instead of the paper's γ = 1 and β = 1/4, as
// the implicit deblurring models do: a small norm-bounded denoiser
// weighs against the data at a fixed point only as hard as its residual
// divided by the step.
func ExampleInitialStep() {
	a, err := imaging.NewBlur("shake", 28, 28)
	if err != nil {
		fmt.Println(err)
		return
	}
	s := layers.NewScope(G.NewGraph(), tensor.Float32, rand.New(rand.NewPCG(1, 2)))
	pgd := imaging.NewPGDCell(s, "pgd", a, conv.NewResCNN(s, "pgd.D", 28, 28, 8, 3, layers.ReLU, conv.ResLipschitz(1)), imaging.InitialStep(0.5))
	hqs := imaging.NewHQSCell(s, "hqs", a, conv.NewResCNN(s, "hqs.D", 28, 28, 8, 3, layers.ReLU, conv.ResLipschitz(1)), imaging.InitialStep(0.5))
	if err := s.Err(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("PGD γ = %g, HQS β = %.4g\n", pgd.Gamma.Value().Data().([]float32)[0], hqs.Beta())
	// Output:
	// PGD γ = 0.5, HQS β = 2
}
