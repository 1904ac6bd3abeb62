package opkit

import (
	"hash/fnv"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestBaseHashIsTheKey: Hashcode is FNV-1a of the key, which WriteHash
// writes — the value the ops' hand-written Hashcode methods computed, so
// hash-consing merges exactly the nodes it merged before.
func TestBaseHashIsTheKey(t *testing.T) {
	b := New("Op", "Op{float64,[2 3]}", tensor.Float64, 2, tensor.Shape{2, 3})
	h := fnv.New32a()
	h.Write([]byte("Op{float64,[2 3]}"))
	if b.Hashcode() != h.Sum32() {
		t.Errorf("Hashcode %d, FNV-1a of the key %d", b.Hashcode(), h.Sum32())
	}
	var sb strings.Builder
	w := fnv.New32a()
	b.WriteHash(w)
	sb.WriteString(b.String())
	if w.Sum32() != h.Sum32() || sb.String() != "Op" {
		t.Errorf("WriteHash or String disagree with the key and name")
	}
	other := New("Op", "Op{float32,[2 3]}", tensor.Float32, 2, tensor.Shape{2, 3})
	if other.Hashcode() == b.Hashcode() {
		t.Error("two keys, one hash")
	}
}

// TestBaseAnswers: arity, types, shape and the memory flags.
func TestBaseAnswers(t *testing.T) {
	b := New("Op", "k", tensor.Float32, 3, tensor.Shape{4, 5})
	if b.Arity() != 3 || b.ReturnsPtr() || b.CallsExtern() || b.OverwritesInput() != -1 {
		t.Errorf("arity %d, flags %v %v %d", b.Arity(), b.ReturnsPtr(), b.CallsExtern(), b.OverwritesInput())
	}
	if got := b.Type().String(); got != "Matrix float32 → Matrix float32 → Matrix float32 → Matrix float32" {
		t.Errorf("type %s", got)
	}
	s, err := b.InferShape()
	if err != nil || !s.Eq(tensor.Shape{4, 5}) {
		t.Errorf("shape %v, %v", s, err)
	}
	scalar := New("Loss", "loss", tensor.Float64, 2, tensor.ScalarShape()).WithTypes(G.TensorType{Dims: 2, Of: tensor.Float64}, G.TensorType{Dims: 2, Of: tensor.Float64}, tensor.Float64)
	if got := scalar.Type().String(); got != "Matrix float64 → Matrix float64 → float64" {
		t.Errorf("explicit types: %s", got)
	}
	if err := b.CheckArity(make([]G.Value, 2)); err == nil || !strings.Contains(err.Error(), "takes 3 inputs, got 2") {
		t.Errorf("CheckArity: %v", err)
	}
}

// TestOutputIsReused: an op's output tensor is allocated once and shared
// by copies of the op; another shape or dtype gets a fresh one.
func TestOutputIsReused(t *testing.T) {
	b := New("Op", "k", tensor.Float64, 1, tensor.Shape{2, 2})
	first := b.Output()
	copied := b
	if copied.Output() != first || b.Output() != first {
		t.Error("the output is not reused")
	}
	if o := b.OutputOf(tensor.Shape{3, 2}); o == first || !o.Shape().Eq(tensor.Shape{3, 2}) {
		t.Errorf("another shape reused the buffer or has shape %v", o.Shape())
	}
}

// TestDispatch runs the kernel of the element type, and refuses others.
func TestDispatch(t *testing.T) {
	var ran string
	f32 := func() error { ran = "32"; return nil }
	f64 := func() error { ran = "64"; return nil }
	for dt, want := range map[tensor.Dtype]string{tensor.Float32: "32", tensor.Float64: "64"} {
		if err := Dispatch(dt, f32, f64); err != nil || ran != want {
			t.Errorf("%v ran %s, %v", dt, ran, err)
		}
	}
	if err := Dispatch(tensor.Int, f32, f64); err == nil {
		t.Error("an int dtype was dispatched")
	}
}

// testOp is an op whose kernels record which ran on which output.
type testOp struct {
	Base
	ran string
}

func testKernel[T Float](op *testOp, out *tensor.Dense, vals []G.Value) error {
	op.ran = out.Dtype().String()
	_, err := Data[T](vals[0])
	return err
}

// TestDo checks the arity (naming the package), runs the kernel of the
// op's element type on its output buffer, and returns that buffer.
func TestDo(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		op := &testOp{Base: New("Op", "k", dt, 1, tensor.Shape{2})}
		in := NewTensor(dt, tensor.Shape{2}, []float64{1, 2})
		out, err := Do(op, "pkg", []G.Value{in}, testKernel[float32], testKernel[float64])
		if err != nil || op.ran != dt.String() || out != G.Value(op.Output()) {
			t.Errorf("%v: ran %q, %v", dt, op.ran, err)
		}
		if _, err := Do(op, "pkg", nil, testKernel[float32], testKernel[float64]); err == nil || !strings.HasPrefix(err.Error(), "pkg: Op takes 1 inputs") {
			t.Errorf("%v: arity error %v", dt, err)
		}
	}
	op := &testOp{Base: New("Op", "k", tensor.Int, 1, tensor.Shape{2})}
	if _, err := Do(op, "pkg", []G.Value{tensor.New(tensor.WithBacking([]int{1, 2}))}, testKernel[float32], testKernel[float64]); err == nil || op.ran != "" {
		t.Errorf("an int op ran %q, %v", op.ran, err)
	}
}

// TestData reads tensors and scalars of the right type and refuses the
// wrong one.
func TestData(t *testing.T) {
	d, err := Data[float64](tensor.New(tensor.WithBacking([]float64{1, 2})))
	if err != nil || len(d) != 2 {
		t.Errorf("tensor: %v, %v", d, err)
	}
	if s, err := Data[float32](G.NewF32(3)); err != nil || s[0] != 3 {
		t.Errorf("scalar: %v, %v", s, err)
	}
	if _, err := Data[float32](tensor.New(tensor.WithBacking([]float64{1}))); err == nil {
		t.Error("a float64 tensor read as float32")
	}
	if _, err := Data[float64](G.NewF32(1)); err == nil {
		t.Error("a float32 scalar read as float64")
	}
}

// TestCache builds a value once per key and does not cache failures.
func TestCache(t *testing.T) {
	var c Cache
	builds := 0
	mk := func() (any, error) { builds++; return builds, nil }
	for range 3 {
		if v, err := c.Get("a", mk); err != nil || v != 1 {
			t.Fatalf("Get: %v, %v", v, err)
		}
	}
	if _, err := c.Get("bad", func() (any, error) { return nil, errTest }); err == nil {
		t.Error("a failed build returned no error")
	}
	if v, _ := c.Get("bad", mk); v != 2 {
		t.Errorf("the failure was cached: %v", v)
	}
	if k := ShapesKey("float32", []tensor.Shape{{2, 3}, {4}}); k != "float32|[2 3]|[4]" {
		t.Errorf("ShapesKey %q", k)
	}
}

type testError struct{}

func (testError) Error() string { return "test" }

var errTest = testError{}

// TestFlushSubnormal: subnormals become zero; normal numbers are kept.
func TestFlushSubnormal(t *testing.T) {
	s32 := []float32{1e-39, -1e-40, 1.2e-38, 0, 1, -3e-39}
	FlushSubnormal(s32)
	if s32[0] != 0 || s32[1] != 0 || s32[2] != 1.2e-38 || s32[4] != 1 || s32[5] != 0 {
		t.Errorf("float32: %v", s32)
	}
	s64 := []float64{1e-310, 1e-300, -5e-320}
	FlushSubnormal(s64)
	if s64[0] != 0 || s64[1] != 1e-300 || s64[2] != 0 {
		t.Errorf("float64: %v", s64)
	}
}
