package deq

import "fmt"

// errorf builds an error whose message starts with the package name.
func errorf(format string, args ...any) error {
	return fmt.Errorf("deq: "+format, args...)
}
