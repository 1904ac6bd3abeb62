package datasets

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// idxFile encodes an IDX file of element type typ.
func idxFile(typ byte, dims []int, data []byte) []byte {
	var b bytes.Buffer
	b.Write([]byte{0, 0, typ, byte(len(dims))})
	for _, d := range dims {
		b.Write(binary.BigEndian.AppendUint32(nil, uint32(d)))
	}
	b.Write(data)
	return b.Bytes()
}

// ubyteFile encodes an unsigned-byte IDX file.
func ubyteFile(dims []int, data []byte) []byte { return idxFile(IDXUint8, dims, data) }

// gz gzips b.
func gz(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

// pixels returns n images of rows×cols pixels, pixel k worth 10k mod 256.
func pixels(n, rows, cols int) []byte {
	px := make([]byte, n*rows*cols)
	for i := range px {
		px[i] = byte(i * 10)
	}
	return px
}

// writeFile writes b to dir/name and returns the path.
func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// writeDataset writes the four files of a tiny MNIST-like dataset into
// dir: trainN and testN images of 2×2 pixels, labels cycling 0…9.
func writeDataset(t *testing.T, dir string, trainN, testN int) {
	t.Helper()
	labels := func(n int) []byte {
		l := make([]byte, n)
		for i := range l {
			l[i] = byte(i % 10)
		}
		return l
	}
	writeFile(t, dir, trainImages, gz(ubyteFile([]int{trainN, 2, 2}, pixels(trainN, 2, 2))))
	writeFile(t, dir, trainLabels, gz(ubyteFile([]int{trainN}, labels(trainN))))
	writeFile(t, dir, testImages, gz(ubyteFile([]int{testN, 2, 2}, pixels(testN, 2, 2))))
	writeFile(t, dir, testLabels, gz(ubyteFile([]int{testN}, labels(testN))))
}
