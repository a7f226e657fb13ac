package frontend

// The FastCGI 1.0 record layer: record headers, name-value pairs and the
// records the responder writes. Only what a responder needs: the
// authorizer and filter roles are refused (FCGI_UNKNOWN_ROLE).

import (
	"encoding/binary"
	"errors"
)

// Record types, roles, flags and protocol statuses (FastCGI 1.0, section 8).
const (
	recBeginRequest    = 1
	recAbortRequest    = 2
	recEndRequest      = 3
	recParams          = 4
	recStdin           = 5
	recStdout          = 6
	recStderr          = 7
	recData            = 8
	recGetValues       = 9
	recGetValuesResult = 10
	recUnknownType     = 11

	roleResponder = 1
	flagKeepConn  = 1

	statusRequestComplete = 0
	statusCantMpxConn     = 1
	statusUnknownRole     = 3

	// maxRecordContent is the most a record can carry (a 16-bit length).
	maxRecordContent = 65535
)

// errBadVersion is a record header of a protocol version other than 1:
// the connection is not speaking FastCGI; it is closed.
var errBadVersion = errors.New("fastcgi: record of an unknown protocol version")

// recHeader is a record's header, without the version (always 1).
type recHeader struct {
	typ     byte
	id      uint16
	length  int // of the content
	padding int // bytes after the content
}

// parseHeader reads a record header from the 8 bytes of b.
func parseHeader(b []byte) (recHeader, error) {
	h := recHeader{typ: b[1], id: binary.BigEndian.Uint16(b[2:]), length: int(binary.BigEndian.Uint16(b[4:])), padding: int(b[6])}
	if b[0] != 1 {
		return h, errBadVersion
	}
	return h, nil
}

// appendRecordHeader appends the header of a record of length bytes,
// without padding (the spec's padding is a recommendation; nginx and
// Apache read records of any length).
func appendRecordHeader(b []byte, typ byte, id uint16, length int) []byte {
	return append(b, 1, typ, byte(id>>8), byte(id), byte(length>>8), byte(length), 0, 0)
}

// appendEndRequest appends an FCGI_END_REQUEST record with application
// status 0 and the given protocol status.
func appendEndRequest(b []byte, id uint16, status byte) []byte {
	b = appendRecordHeader(b, recEndRequest, id, 8)
	return append(b, 0, 0, 0, 0, status, 0, 0, 0)
}

// readPairSize reads a name or value length: one byte below 128, else four
// bytes with the high bit set. n is 0 when s is too short.
func readPairSize(s string) (size uint32, n int) {
	if len(s) == 0 {
		return 0, 0
	}
	if s[0]&0x80 == 0 {
		return uint32(s[0]), 1
	}
	if len(s) < 4 {
		return 0, 0
	}
	return uint32(s[0]&0x7f)<<24 | uint32(s[1])<<16 | uint32(s[2])<<8 | uint32(s[3]), 4
}

// parsePairs adds the name-value pairs of b to m, a later pair winning;
// it stops at the first malformed one, as net/http/fcgi does. The names and
// values are slices of one copy of b: one allocation for the request's
// parameters, not two for each (nginx sends about twenty).
func parsePairs(b []byte, m map[string]string) {
	text := string(b)
	for len(text) > 0 {
		klen, n := readPairSize(text)
		if n == 0 {
			return
		}
		text = text[n:]
		vlen, n := readPairSize(text)
		if n == 0 {
			return
		}
		text = text[n:]
		if uint64(klen)+uint64(vlen) > uint64(len(text)) {
			return
		}
		k := text[:klen]
		text = text[klen:]
		m[k] = text[:vlen]
		text = text[vlen:]
	}
}

// fcgiAppendPair appends a name-value pair, each length in 1 or 4 bytes.
func fcgiAppendPair(b []byte, k, v string) []byte {
	for _, n := range [2]int{len(k), len(v)} {
		if n < 128 {
			b = append(b, byte(n))
		} else {
			b = binary.BigEndian.AppendUint32(b, uint32(n)|1<<31)
		}
	}
	return append(append(b, k...), v...)
}

// getValuesResult is the answer to any FCGI_GET_VALUES: requests are not
// multiplexed on a connection (a second FCGI_BEGIN_REQUEST while one is in
// progress is refused with FCGI_CANT_MPX_CONN); nginx and Apache never
// multiplex.
var getValuesResult = func() []byte {
	pairs := fcgiAppendPair(nil, "FCGI_MPXS_CONNS", "0")
	return append(appendRecordHeader(nil, recGetValuesResult, 0, len(pairs)), pairs...)
}()
