package datasets

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
)

// IDX element types: the third byte of an IDX file.
const (
	IDXUint8   byte = 0x08
	IDXInt8    byte = 0x09
	IDXInt16   byte = 0x0B
	IDXInt32   byte = 0x0C
	IDXFloat32 byte = 0x0D
	IDXFloat64 byte = 0x0E
)

const (
	// maxIDXBytes bounds the data a header may announce, so a corrupt
	// header cannot make the reader allocate without limit. MNIST's
	// largest file holds 47 MB.
	maxIDXBytes = 1 << 31
	// initialDataCap bounds the first allocation when the size of the
	// input is unknown (gzip, pipes): a lying header then costs at most
	// this much before the data run out.
	initialDataCap = 1 << 24
	// maxDeflateRatio bounds how far deflate expands its input (258
	// bytes from a 2-bit code, RFC 1951), so that a gzip file of known
	// size bounds its data too.
	maxDeflateRatio = 1032
)

// IDX is a parsed IDX file, the format of MNIST.
type IDX struct {
	// Type is the element type, one of the IDX* constants.
	Type byte
	// Dims are the dimensions, outermost first; there is at least one.
	Dims []int
	// Data holds the elements in row-major order, big-endian as in the
	// file: len(Data) is the product of Dims times the element size.
	Data []byte
}

// elemSize returns the size in bytes of an IDX element type, 0 for an
// unknown type.
func elemSize(t byte) int {
	switch t {
	case IDXUint8, IDXInt8:
		return 1
	case IDXInt16:
		return 2
	case IDXInt32, IDXFloat32:
		return 4
	case IDXFloat64:
		return 8
	}
	return 0
}

// Len returns the number of elements, the product of Dims.
func (x *IDX) Len() int {
	n := 1
	for _, d := range x.Dims {
		n *= d
	}
	return n
}

// check reports whether x is self-consistent, as ParseIDX leaves it; it
// guards the decoders against hand-built values.
func (x *IDX) check() error {
	size := elemSize(x.Type)
	if size == 0 {
		return fmt.Errorf("datasets: unknown IDX element type 0x%02x", x.Type)
	}
	if len(x.Dims) == 0 || len(x.Data) != x.Len()*size {
		return fmt.Errorf("datasets: IDX holds %d data bytes for dims %v of %d-byte elements; build it with ParseIDX", len(x.Data), x.Dims, size)
	}
	return nil
}

// Uint8s returns the elements of an unsigned-byte IDX (its Data, not a
// copy).
func (x *IDX) Uint8s() ([]uint8, error) {
	if err := x.check(); err != nil {
		return nil, err
	}
	if x.Type != IDXUint8 {
		return nil, fmt.Errorf("datasets: IDX elements are of type 0x%02x, not unsigned bytes (0x08); use Float32s", x.Type)
	}
	return x.Data, nil
}

// Float32s decodes the elements of any IDX type into a new slice.
// Unsigned bytes keep their values 0…255; use LoadIDXPair for pixels
// scaled to [0, 1].
func (x *IDX) Float32s() ([]float32, error) {
	if err := x.check(); err != nil {
		return nil, err
	}
	out := make([]float32, x.Len())
	d := x.Data
	be := binary.BigEndian
	switch x.Type {
	case IDXUint8:
		for i, v := range d {
			out[i] = float32(v)
		}
	case IDXInt8:
		for i, v := range d {
			out[i] = float32(int8(v))
		}
	case IDXInt16:
		for i := range out {
			out[i] = float32(int16(be.Uint16(d[2*i:])))
		}
	case IDXInt32:
		for i := range out {
			out[i] = float32(int32(be.Uint32(d[4*i:])))
		}
	case IDXFloat32:
		for i := range out {
			out[i] = math.Float32frombits(be.Uint32(d[4*i:]))
		}
	case IDXFloat64:
		for i := range out {
			out[i] = float32(math.Float64frombits(be.Uint64(d[8*i:])))
		}
	}
	return out, nil
}

// ReadIDX reads the IDX file at path, gzipped or plain.
func ReadIDX(path string) (*IDX, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("datasets: %w", err)
	}
	defer f.Close()
	return ParseIDX(f, path)
}

// ParseIDX parses an IDX stream, gzipped or plain: gzip is recognised by
// its magic bytes, not by a file name. Name labels the errors, which
// name the problem: a wrong magic number, an unknown type, a truncated
// header or data, trailing bytes, or a header announcing more than 2 GiB.
func ParseIDX(r io.Reader, name string) (*IDX, error) {
	if name == "" {
		name = "IDX input"
	}
	hint := sizeHint(r)
	br := bufio.NewReaderSize(r, 1<<16)
	if head, _ := br.Peek(2); len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("datasets: %s: corrupt gzip header (%v); re-download or re-install the file", name, err)
		}
		defer zr.Close()
		avail := int64(-1)
		if hint >= 0 && hint <= math.MaxInt64/maxDeflateRatio {
			avail = hint * maxDeflateRatio
		}
		return parseIDX(zr, name, -1, avail)
	}
	return parseIDX(br, name, hint, hint)
}

// sizeHint returns how many bytes r has left when it can tell cheaply,
// else -1.
func sizeHint(r io.Reader) int64 {
	switch r := r.(type) {
	case interface{ Len() int }: // bytes.Reader, bytes.Buffer, strings.Reader
		return int64(r.Len())
	case *os.File:
		fi, err := r.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			return -1 // pipes and devices report no useful size
		}
		off, err := r.Seek(0, io.SeekCurrent)
		if err != nil {
			return -1
		}
		return fi.Size() - off
	}
	return -1
}

// parseIDX parses an uncompressed IDX stream with size bytes left, and
// at most avail bytes left (-1 when unknown): an exact size judges a
// truncated file at once, a bound only caps the first allocation.
func parseIDX(r io.Reader, name string, size, avail int64) (*IDX, error) {
	var magic [4]byte
	if n, err := io.ReadFull(r, magic[:]); err != nil {
		if n == 0 && err == io.EOF {
			return nil, fmt.Errorf("datasets: %s: empty file; want an IDX file", name)
		}
		return nil, fmt.Errorf("datasets: %s: truncated header: %d of 4 magic bytes (%v); not an IDX file", name, n, err)
	}
	if magic[0] != 0 || magic[1] != 0 {
		return nil, fmt.Errorf("datasets: %s: wrong magic number % x, want 00 00 <type> <dims>; not an IDX file", name, magic)
	}
	x := &IDX{Type: magic[2]}
	esize := elemSize(x.Type)
	if esize == 0 {
		return nil, fmt.Errorf("datasets: %s: unknown IDX element type 0x%02x (want 08, 09, 0b, 0c, 0d or 0e); the file is corrupt or not IDX", name, x.Type)
	}
	nd := int(magic[3])
	if nd == 0 {
		return nil, fmt.Errorf("datasets: %s: IDX header announces zero dimensions; the file is corrupt", name)
	}
	raw := make([]byte, 4*nd)
	if n, err := io.ReadFull(r, raw); err != nil {
		return nil, fmt.Errorf("datasets: %s: truncated header: %d dimensions announced, %d of their %d bytes present", name, nd, n, len(raw))
	}
	// Bound the product of the non-zero dimensions, not just the total:
	// with a zero dimension the total is 0, yet a consumer multiplying
	// the other dimensions could still overflow.
	x.Dims = make([]int, nd)
	total, bound := int64(esize), int64(esize)
	for i := range x.Dims {
		d := int64(binary.BigEndian.Uint32(raw[4*i:]))
		x.Dims[i] = int(d)
		total *= d
		if d > 0 {
			bound *= d
		}
		if bound > maxIDXBytes {
			return nil, fmt.Errorf("datasets: %s: header announces more than %d bytes of data (dims %v…); the file is corrupt", name, int64(maxIDXBytes), x.Dims[:i+1])
		}
	}
	if left := size - int64(4+4*nd); size >= 0 && left < total {
		return nil, fmt.Errorf("datasets: %s: truncated data: dims %v of %d-byte elements need %d bytes, found %d; the file is incomplete, re-download or re-install it", name, x.Dims, esize, total, left)
	}
	first := min(total, initialDataCap)
	if avail >= 0 {
		first = min(first, avail)
	}
	data, err := readData(r, total, first)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("datasets: %s: truncated data: dims %v of %d-byte elements need %d bytes, found %d; the file is incomplete, re-download or re-install it", name, x.Dims, esize, total, len(data))
		}
		return nil, fmt.Errorf("datasets: %s: reading data: %v; the file is corrupt", name, err)
	}
	var one [1]byte
	switch n, err := io.ReadFull(r, one[:]); {
	case n > 0:
		more, _ := io.Copy(io.Discard, io.LimitReader(r, 1<<20))
		return nil, fmt.Errorf("datasets: %s: %s trailing bytes after the %d data bytes that dims %v announce; the header or the file is corrupt", name, countTrailing(1+more, 1<<20), total, x.Dims)
	case err == io.ErrUnexpectedEOF:
		return nil, fmt.Errorf("datasets: %s: truncated gzip stream after the data; the file is incomplete, re-download or re-install it", name)
	case err != io.EOF:
		// A gzip checksum mismatch shows up only here, at the end.
		return nil, fmt.Errorf("datasets: %s: after the data: %v; the file is corrupt", name, err)
	}
	x.Data = data
	return x, nil
}

// countTrailing words a count of trailing bytes read with a limit.
func countTrailing(n, limit int64) string {
	if n > limit {
		return fmt.Sprintf("more than %d", limit)
	}
	return fmt.Sprint(n)
}

// readData reads total bytes into a buffer that starts at first bytes
// and grows as the data arrive, so that a header lying about the size of
// its input costs little more than first. On error it returns what it
// read.
func readData(r io.Reader, total, first int64) ([]byte, error) {
	buf := make([]byte, 0, max(first, 0))
	for int64(len(buf)) < total {
		if len(buf) == cap(buf) {
			// Doubling, from a page, so that an empty start grows too.
			buf = slices.Grow(buf, int(min(int64(max(len(buf), 4096)), total-int64(len(buf)))))
		}
		end := int(min(int64(cap(buf)), total))
		n, err := io.ReadFull(r, buf[len(buf):end])
		buf = buf[:len(buf)+n]
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}
