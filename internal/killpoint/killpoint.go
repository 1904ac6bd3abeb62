// Package killpoint lets the crash-consistency tests kill a run at a
// named point. When the environment variable IMPLICIT_KILL_AT equals the
// key a point names, the process kills itself (SIGKILL on Unix): no
// deferred call runs and no buffer is flushed, as if the machine had
// lost power there. With the variable unset a point costs one lookup.
//
// Keys name the place and, where a place is passed many times, the
// occasion: "train:MODEL:STEP" after a training step's update,
// "checkpoint:MODEL:STEP" between writing a checkpoint's temporary file
// and renaming it, "eval:MODEL" in a model's evaluation, "report:FILE"
// between writing a report file and renaming it.
package killpoint

import (
	"fmt"
	"os"
)

// Variable is the environment variable that arms a point.
const Variable = "IMPLICIT_KILL_AT"

// At kills the process when the armed key is fmt.Sprintf(format, args...).
func At(format string, args ...any) {
	armed := os.Getenv(Variable)
	if armed == "" || armed != fmt.Sprintf(format, args...) {
		return
	}
	p, err := os.FindProcess(os.Getpid())
	if err == nil {
		err = p.Kill()
	}
	// Kill returns before the signal lands; never go on past the point.
	fmt.Fprintf(os.Stderr, "killpoint %s: %v\n", armed, err)
	select {}
}
