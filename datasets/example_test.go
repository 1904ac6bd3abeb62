package datasets_test

import (
	"bytes"
	"fmt"

	"github.com/implicit-ml/implicit/datasets"
)

// Parse a tiny IDX file: two 1×3 unsigned-byte rows.
func ExampleParseIDX() {
	raw := []byte{0, 0, datasets.IDXUint8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6}
	x, err := datasets.ParseIDX(bytes.NewReader(raw), "tiny.idx")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(x.Dims, x.Data)
	_, err = datasets.ParseIDX(bytes.NewReader(raw[:10]), "cut.idx")
	fmt.Println(err)
	// Output:
	// [2 3] [1 2 3 4 5 6]
	// datasets: cut.idx: truncated header: 2 dimensions announced
}
