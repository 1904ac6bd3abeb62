package layers

import (
	"math"
	"math/rand/v2"

	"gorgonia.org/tensor"
)

// Orthogonal initialises a matrix (r, c) — or a tensor, seen as its first
// dimension by the product of the others — with orthonormal columns when
// r ≥ c and orthonormal rows otherwise, times gain: the Q factor of a
// Gaussian matrix, its signs fixed by R's diagonal so that the
// distribution is uniform (Haar) over such matrices (Saxe et al. 2014;
// PyTorch's nn.init.orthogonal_). Vectors and scalars get a unit-norm
// Gaussian draw.
func Orthogonal(gain float64) Init {
	return func(rng *rand.Rand, shape tensor.Shape, out []float64) {
		rows := 1
		if len(shape) > 0 {
			rows = shape[0]
		}
		cols := len(out) / max(rows, 1)
		tall, short := rows, cols // Q is tall × short with orthonormal columns
		if rows < cols {
			tall, short = cols, rows
		}
		q := make([]float64, tall*short) // column-major: column j at q[j*tall:]
		for i := range q {
			q[i] = rng.NormFloat64()
		}
		gramSchmidt(q, tall, short)
		for i := range rows {
			for j := range cols {
				var v float64
				if rows >= cols {
					v = q[j*tall+i] // Q[i][j]
				} else {
					v = q[i*tall+j] // Qᵀ[i][j]
				}
				out[i*cols+j] = gain * v
			}
		}
	}
}

// gramSchmidt orthonormalises the short columns (each of length tall,
// stored one after another) by modified Gram–Schmidt, twice for accuracy.
// Dividing by the positive norm is the Q of a QR with a positive R
// diagonal. A column that vanishes (probability zero) is left at zero.
func gramSchmidt(q []float64, tall, short int) {
	for j := range short {
		cj := q[j*tall : (j+1)*tall]
		for range 2 {
			for k := range j {
				ck := q[k*tall : (k+1)*tall]
				var d float64
				for i := range cj {
					d += ck[i] * cj[i]
				}
				for i := range cj {
					cj[i] -= d * ck[i]
				}
			}
		}
		var n float64
		for _, v := range cj {
			n += v * v
		}
		if n = math.Sqrt(n); n > 0 {
			for i := range cj {
				cj[i] /= n
			}
		}
	}
}
