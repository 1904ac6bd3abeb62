package serve

import (
	"encoding/binary"
	"fmt"
	"math"
	"mime"
)

// BinaryContentType is the media type of the binary request body of POST
// /v1/predict: a header of BinaryHeaderBytes, then the inputs as
// little-endian float32. A body of any other type is read as JSON.
//
// The header, all fields little-endian:
//
//	offset  size  field
//	0       4     magic "IF32"
//	4       4     uint32 number of inputs n
//	8       4     uint32 values per input d (the model's input shape, flattened)
//	12      4     uint32 budget iterations (0: not given)
//	16      4     uint32 budget max_iter (0: not given)
//	20      4     uint32 reserved, 0
//	24      8     float64 budget tol (0: not given)
//	32      8     float64 budget deadline_ms (0: not given)
//	40      4·n·d float32 inputs, input after input, each row-major
//
// The budget fields mean what the JSON budget's do; all four zero means no
// budget. The body's length must be exactly 40 + 4·n·d. The answer is the
// same JSON as for a JSON request. PredictRequest.MarshalBinary writes
// such a body.
const BinaryContentType = "application/x-implicit-f32"

// BinaryHeaderBytes is the length of the binary body's header.
const BinaryHeaderBytes = 40

// binaryMagic opens every binary body.
const binaryMagic = "IF32"

// isBinary says a Content-Type header names BinaryContentType.
func isBinary(contentType string) bool {
	t, _, err := mime.ParseMediaType(contentType)
	return err == nil && t == BinaryContentType
}

// MarshalBinary encodes the request as a body of BinaryContentType: its
// inputs rounded to float32. It fails on no inputs, inputs of unequal or
// zero length, or budget counts below zero or beyond uint32; the server
// judges the rest (shapes, values, ranges).
func (r *PredictRequest) MarshalBinary() ([]byte, error) {
	if len(r.Inputs) == 0 || len(r.Inputs[0]) == 0 {
		return nil, fmt.Errorf("serve: a binary request needs at least one input of at least one value")
	}
	d := len(r.Inputs[0])
	var b Budget
	if r.Budget != nil {
		b = *r.Budget
	}
	for _, n := range []int{len(r.Inputs), d, b.Iterations, b.MaxIter} {
		if n < 0 || int64(n) > math.MaxUint32 {
			return nil, fmt.Errorf("serve: %d does not fit the binary header's uint32", n)
		}
	}
	out := make([]byte, BinaryHeaderBytes, BinaryHeaderBytes+4*len(r.Inputs)*d)
	copy(out, binaryMagic)
	le := binary.LittleEndian
	le.PutUint32(out[4:], uint32(len(r.Inputs)))
	le.PutUint32(out[8:], uint32(d))
	le.PutUint32(out[12:], uint32(b.Iterations))
	le.PutUint32(out[16:], uint32(b.MaxIter))
	le.PutUint64(out[24:], math.Float64bits(b.Tol))
	le.PutUint64(out[32:], math.Float64bits(b.DeadlineMs))
	for i, x := range r.Inputs {
		if len(x) != d {
			return nil, fmt.Errorf("serve: input %d has %d values, input 0 has %d; a binary request's inputs all have one length", i, len(x), d)
		}
		for _, v := range x {
			out = le.AppendUint32(out, math.Float32bits(float32(v)))
		}
	}
	return out, nil
}

// UnmarshalBinary decodes a body of BinaryContentType into r: its header
// and length, not its values or shapes against a model (the server checks
// those as for JSON). Its errors are one line, a 400 (StatusCode).
func (r *PredictRequest) UnmarshalBinary(b []byte) error {
	if len(b) < BinaryHeaderBytes {
		return badRequest("binary request of %d bytes; its header alone is %d (%s)", len(b), BinaryHeaderBytes, BinaryContentType)
	}
	if string(b[:4]) != binaryMagic {
		return badRequest("binary request starts with %q, not %q: send %s, or JSON with another Content-Type", b[:4], binaryMagic, BinaryContentType)
	}
	le := binary.LittleEndian
	n, d := uint64(le.Uint32(b[4:])), uint64(le.Uint32(b[8:]))
	if res := le.Uint32(b[20:]); res != 0 {
		return badRequest("binary request header: reserved field is %d; it must be 0", res)
	}
	data := b[BinaryHeaderBytes:]
	switch {
	case n > 0 && d == 0:
		return badRequest("binary request header: inputs of 0 values")
	case len(data)%4 != 0 || n*d != uint64(len(data)/4): // n, d < 2³²: n·d fits
		return badRequest("binary request of %d bytes: its header announces %d inputs of %d float32 values, which take %d + 4·%d·%d bytes",
			len(b), n, d, BinaryHeaderBytes, n, d)
	}
	budget := Budget{Iterations: int(le.Uint32(b[12:])), MaxIter: int(le.Uint32(b[16:])),
		Tol: math.Float64frombits(le.Uint64(b[24:])), DeadlineMs: math.Float64frombits(le.Uint64(b[32:]))}
	r.Budget = nil
	if budget != (Budget{}) {
		r.Budget = &budget
	}
	flat := make([]float64, len(data)/4)
	for i := range flat {
		flat[i] = float64(math.Float32frombits(le.Uint32(data[4*i:])))
	}
	r.Inputs = make([][]float64, n)
	for i := range r.Inputs {
		r.Inputs[i] = flat[uint64(i)*d : uint64(i+1)*d : uint64(i+1)*d]
	}
	return nil
}
