package layers

import (
	G "gorgonia.org/gorgonia"

	"github.com/implicit-ml/implicit/internal/gradcheck"
)

// GradReport compares the gradient Gorgonia computes for one node with
// central finite differences: RelErr is ‖analytic − numeric‖ /
// max(‖analytic‖, ‖numeric‖).
type GradReport = gradcheck.Report

// CheckGradients builds a graph with build, differentiates its scalar loss
// with respect to wrt (float64 nodes) on a TapeMachine, and compares each
// gradient with the central difference (L(v+h) − L(v−h))/2h taken entry
// by entry (h = 0 means 1e-5). It is how every differentiable piece of
// this project is tested; use it on your own cells and layers. A relative
// error around 1e-7 or below means the gradient is right.
func CheckGradients(build func(g *G.ExprGraph) (loss *G.Node, wrt G.Nodes, err error), h float64) ([]GradReport, error) {
	return gradcheck.Check(build, h)
}
