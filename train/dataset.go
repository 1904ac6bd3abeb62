package train

// Dataset is a finite, indexable set of (input, target) samples of fixed
// shapes. Classification datasets give one-hot targets. Package datasets
// implements it; train never needs to know which data it is.
type Dataset interface {
	// Len is the number of samples.
	Len() int
	// InputShape and TargetShape are the shapes of one sample.
	InputShape() []int
	TargetShape() []int
	// Sample copies sample i's input and target into x and y, whose
	// lengths are the products of the two shapes.
	Sample(i int, x, y []float32)
}
