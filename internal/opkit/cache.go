package opkit

import (
	"fmt"
	"strings"
	"sync"

	"gorgonia.org/tensor"
)

// Cache memoises values (a cell's kernels, compiled private graphs) by a
// string key such as ShapesKey's. The zero value is ready; it is safe for
// concurrent use.
type Cache struct {
	mu sync.Mutex
	m  map[string]any
}

// Get returns the value cached under key, building it with mk on a miss
// (a failed build is not cached).
func (c *Cache) Get(key string, mk func() (any, error)) (any, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if k, ok := c.m[key]; ok {
		return k, nil
	}
	k, err := mk()
	if err != nil {
		return nil, err
	}
	if c.m == nil {
		c.m = map[string]any{}
	}
	c.m[key] = k
	return k, nil
}

// ShapesKey is the key of an element type (named by dt) and a list of
// shapes.
func ShapesKey(dt string, shapes []tensor.Shape) string {
	var b strings.Builder
	b.WriteString(dt)
	for _, s := range shapes {
		fmt.Fprintf(&b, "|%v", []int(s))
	}
	return b.String()
}
