package datasets

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// IDX type codes.
const (
	IDXUint8   = 0x08
	IDXInt8    = 0x09
	IDXInt16   = 0x0B
	IDXInt32   = 0x0C
	IDXFloat32 = 0x0D
	IDXFloat64 = 0x0E
)

// maxIDXBytes bounds the data a header may announce, so a corrupt header
// cannot make the reader allocate without limit.
const maxIDXBytes = 1 << 31

// IDX is a parsed IDX file: the element type, the dimensions and the raw
// big-endian data.
type IDX struct {
	Type byte
	Dims []int
	Data []byte
}

// elemSize returns the size in bytes of an IDX element type.
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

// Len is the number of elements.
func (x *IDX) Len() int {
	n := 1
	for _, d := range x.Dims {
		n *= d
	}
	return n
}

// ReadIDX reads an IDX file, gzipped or plain (recognised by content, not
// by name).
func ReadIDX(path string) (*IDX, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("datasets: %w", err)
	}
	defer f.Close()
	return ParseIDX(f, path)
}

// ParseIDX parses an IDX stream; name is used in error messages.
func ParseIDX(r io.Reader, name string) (*IDX, error) {
	br := bufio.NewReader(r)
	if head, err := br.Peek(2); err == nil && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("datasets: %s: bad gzip stream: %w", name, err)
		}
		defer zr.Close()
		return parseIDX(bufio.NewReader(zr), name)
	}
	return parseIDX(br, name)
}

func parseIDX(r io.Reader, name string) (*IDX, error) {
	var magic [4]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		return nil, fmt.Errorf("datasets: %s: truncated header (%v); not an IDX file", name, err)
	}
	if magic[0] != 0 || magic[1] != 0 {
		return nil, fmt.Errorf("datasets: %s: wrong magic number % x; not an IDX file", name, magic)
	}
	x := &IDX{Type: magic[2]}
	size := elemSize(x.Type)
	if size == 0 {
		return nil, fmt.Errorf("datasets: %s: unknown IDX element type 0x%02x", name, x.Type)
	}
	nd := int(magic[3])
	if nd == 0 {
		return nil, fmt.Errorf("datasets: %s: IDX header has zero dimensions", name)
	}
	dims := make([]byte, 4*nd)
	if _, err := io.ReadFull(r, dims); err != nil {
		return nil, fmt.Errorf("datasets: %s: truncated header: %d dimensions announced", name, nd)
	}
	total := int64(size)
	for i := 0; i < nd; i++ {
		d := binary.BigEndian.Uint32(dims[4*i:])
		x.Dims = append(x.Dims, int(d))
		total *= int64(d)
		if total > maxIDXBytes {
			return nil, fmt.Errorf("datasets: %s: header announces more than %d bytes of data (dims %v…); the file is corrupt", name, maxIDXBytes, x.Dims)
		}
	}
	// Read in chunks so a lying header costs no more memory than the data
	// actually present.
	var buf []byte
	chunk := make([]byte, 1<<20)
	for int64(len(buf)) < total {
		want := min(int64(len(chunk)), total-int64(len(buf)))
		n, err := io.ReadFull(r, chunk[:want])
		buf = append(buf, chunk[:n]...)
		if err != nil {
			return nil, fmt.Errorf("datasets: %s: truncated data: expected %d bytes for dims %v, found %d", name, total, x.Dims, len(buf))
		}
	}
	var extra [1]byte
	if n, _ := io.ReadFull(r, extra[:]); n > 0 {
		return nil, fmt.Errorf("datasets: %s: trailing bytes after %d bytes of data for dims %v", name, total, x.Dims)
	}
	x.Data = buf
	return x, nil
}
