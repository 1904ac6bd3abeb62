package datasets

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"os"
)

// A blob is a cache file of float32 arrays: a header that identifies
// exactly what the arrays hold (magic, format version and every setting
// they were made with), the arrays as little-endian float32, and the
// CRC-32C of all that. readBlob accepts a file only if its size, header and
// checksum all match, so a truncated, corrupt or foreign file is never
// trusted.

var blobCRC = crc32.MakeTable(crc32.Castagnoli)

// encodeBlob lays out a blob.
func encodeBlob(header []byte, arrays ...[]float32) []byte {
	n := len(header) + 4
	for _, a := range arrays {
		n += 4 * len(a)
	}
	b := make([]byte, 0, n)
	b = append(b, header...)
	for _, a := range arrays {
		for _, v := range a {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, blobCRC))
}

// blobSize returns the size of a blob with header and arrays of the given
// lengths, or an error for a negative length or a size past 2⁶³ bytes.
func blobSize(header []byte, lens []int) (int64, error) {
	size := int64(len(header) + 4)
	for _, n := range lens {
		if n < 0 || int64(n) > (math.MaxInt64-size)/4 {
			return 0, fmt.Errorf("array of %d values asked for", n)
		}
		size += 4 * int64(n)
	}
	return size, nil
}

// readBlob reads the blob at path into arrays of the given lengths. Its
// size is checked before it is read, so a wrong file is not read in full.
func readBlob(path string, header []byte, lens ...int) ([][]float32, error) {
	want, err := blobSize(header, lens)
	if err != nil {
		return nil, fmt.Errorf("datasets: %s: %v; the caller asked for an impossible blob", path, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("datasets: %w", err)
	}
	if st.IsDir() {
		return nil, cacheIsDirError(path)
	}
	if st.Size() != want {
		return nil, fmt.Errorf("datasets: %s: %d bytes, want %d", path, st.Size(), want)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("datasets: %w", err)
	}
	return decodeBlob(b, path, header, lens...)
}

// decodeBlob parses blob b, named name in errors, into arrays of the given
// lengths: b must be exactly that long, start with header and carry its
// checksum. Nothing is allocated before the size is known to match.
func decodeBlob(b []byte, name string, header []byte, lens ...int) ([][]float32, error) {
	want, err := blobSize(header, lens)
	if err != nil {
		return nil, fmt.Errorf("datasets: %s: %v; the caller asked for an impossible blob", name, err)
	}
	if int64(len(b)) != want {
		return nil, fmt.Errorf("datasets: %s: %d bytes, want %d; the file is truncated or not this set", name, len(b), want)
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, blobCRC) != sum {
		return nil, fmt.Errorf("datasets: %s: checksum mismatch; the file is corrupt", name)
	}
	if !bytes.Equal(body[:len(header)], header) {
		return nil, fmt.Errorf("datasets: %s: header does not match the settings asked for", name)
	}
	data := body[len(header):]
	out := make([][]float32, len(lens))
	for k, n := range lens {
		a := make([]float32, n)
		for i := range a {
			a[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
		out[k], data = a, data[4*n:]
	}
	return out, nil
}
