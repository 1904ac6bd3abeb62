// Package vecmath holds vectorised elementwise kernels for float32 slices:
// AVX2+FMA assembly on amd64 CPUs that have it, portable Go elsewhere (and
// with the purego build tag). The portable and vector paths compute the
// same approximations; tests bound their errors against the math package.
package vecmath
