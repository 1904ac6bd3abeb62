// Package archtest holds the architecture test: the import rules of
// docs/architecture.md, checked against `go list -deps` so that a change
// that breaks them fails the suite. It has no code of its own.
package archtest
