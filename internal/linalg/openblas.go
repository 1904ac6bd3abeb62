//go:build openblas

package linalg

// #cgo LDFLAGS: -lopenblas
// void openblas_set_num_threads(int);
// char* openblas_get_corename(void);
import "C"

import (
	"os"

	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	netlib "gonum.org/v1/netlib/blas/netlib"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// With the openblas build tag every BLAS call — gonum's (the built-in
// cells and solvers), Gorgonia's and its tensor package's (matrix products
// in graphs) — goes to OpenBLAS through cgo. BLAS implementations are
// process-wide in those libraries, so this is a build-time choice, made
// once here. Needs Debian's libopenblas-dev.
//
// OpenBLAS runs single-threaded unless OPENBLAS_NUM_THREADS says
// otherwise: its idle threads spin in sched_yield after every call, taking
// the core the Go side needs, and the Go side splits the work of big
// batches over cores itself (measured on the classify models: training
// 20-35% faster than with two OpenBLAS threads).
func init() {
	if os.Getenv("OPENBLAS_NUM_THREADS") == "" {
		C.openblas_set_num_threads(1)
	}
	impl := netlib.Implementation{}
	blas64.Use(impl)
	blas32.Use(impl)
	tensor.Use(impl)
	G.Use(impl)
}

// Backend names the BLAS in use.
const Backend = "openblas"

// splitRows makes Gemm split large products over cores.
const splitRows = true

// Kernel names the CPU kernel OpenBLAS selected (see OPENBLAS_CORETYPE).
func Kernel() string { return C.GoString(C.openblas_get_corename()) }

// useFastSgemm is off: OpenBLAS's own kernels are faster.
const useFastSgemm = false
