//go:build cgo

package pyhost

// The C layer links the libpython that pkg-config's python3-embed names:
// Debian's python3-dev by default, another Python with PKG_CONFIG_PATH.
// (python3 without -embed adds no -lpython on 3.8 and later.)

/*
#cgo pkg-config: python3-embed
#cgo CFLAGS: -std=c11 -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-deprecated-declarations
#cgo LDFLAGS: -ldl
#cgo noescape ph_exec
*/
import "C"
