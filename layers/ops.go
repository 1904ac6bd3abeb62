package layers

import (
	"fmt"
	"hash/fnv"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// hashOf hashes an op through its WriteHash.
func hashOf(op G.Op) uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}

// accumulateGrad adds d to the gradient (dual value) of n, for the DoDiff
// methods the LispMachine calls.
func accumulateGrad(n *G.Node, d G.Value) error {
	gv, err := n.Grad()
	if err != nil {
		return err
	}
	gt, ok := gv.(*tensor.Dense)
	if !ok {
		return fmt.Errorf("layers: gradient of %s is a %T, not a tensor", n.Name(), gv)
	}
	dt, ok := d.(*tensor.Dense)
	if !ok {
		return fmt.Errorf("layers: gradient contribution is a %T, not a tensor", d)
	}
	_, err = gt.Add(dt, tensor.UseUnsafe())
	return err
}
