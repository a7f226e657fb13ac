// Package interp runs work on a fixed pool of workers, each a goroutine
// locked to its own OS thread for its whole life and owning one interpreter
// created on that thread. It has no cgo and no knowledge of Python: the
// interpreter type is a type parameter, so tests use a fake.
package interp
