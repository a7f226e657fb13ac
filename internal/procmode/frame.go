package procmode

// Wire format, both directions: one type byte, a little-endian uint32
// payload length, the payload.
//
//	server -> worker  'Q' request: flags u8 (bit 0: python -u), optimize u8,
//	                      stamp 4 x i64, then path, env block, argv block,
//	                      each a u32 length and bytes; fds: stdin, stdout, stderr
//	worker -> server  'R' ready (empty), after Python started
//	                  'F' failure: text; the worker exits
//	                  'D' done: exit code i32, retire u8, failure text

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

const (
	msgRequest = 'Q'
	msgReady   = 'R'
	msgFail    = 'F'
	msgDone    = 'D'
)

// maxFrame bounds a frame's payload (a request's environment is at most
// the HTTP header limit; this is far above it).
const maxFrame = 64 << 20

// headerLen is the size of a frame's type byte and length.
const headerLen = 5

func writeFrame(w io.Writer, typ byte, payload []byte) error {
	b := make([]byte, headerLen, headerLen+len(payload))
	b[0] = typ
	binary.LittleEndian.PutUint32(b[1:], uint32(len(payload)))
	_, err := w.Write(append(b, payload...))
	return err
}

// frameHeader returns the header of a frame of typ with n bytes of payload.
func frameHeader(typ byte, n int) [headerLen]byte {
	var hdr [headerLen]byte
	hdr[0] = typ
	binary.LittleEndian.PutUint32(hdr[1:], uint32(n))
	return hdr
}

// parseHeader checks a frame header: its type (any when want is 0) and
// its payload size.
func parseHeader(hdr [headerLen]byte, want byte) (int, error) {
	size := binary.LittleEndian.Uint32(hdr[1:])
	if (want != 0 && hdr[0] != want) || size > maxFrame {
		return 0, fmt.Errorf("bad frame %q (%d bytes)", hdr[0], size)
	}
	return int(size), nil
}

// frame is one message from a worker.
type frame struct {
	typ     byte
	payload []byte
}

// readFrame reads one whole frame of any type.
func readFrame(r io.Reader) (frame, error) {
	var hdr [headerLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return frame{}, err
	}
	n, err := parseHeader(hdr, 0)
	if err != nil {
		return frame{}, err
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return frame{}, err
	}
	return frame{hdr[0], p}, nil
}

// Request is what a worker process needs to run one script: the path and
// freshness stamp (mtime_ns, size, inode, device) its code cache keys on,
// the shebang flags honoured in-process, and the environment and argv as
// "s\x00" blocks.
type Request struct {
	Path       string
	Stamp      [4]int64
	Unbuffered bool // python3 -u
	Optimize   int  // python3 -O (1) or -OO (2)
	Env        []byte
	Args       []byte
}

func encodeRequest(b []byte, req *Request) []byte {
	var flags byte
	if req.Unbuffered {
		flags = 1
	}
	b = append(b, flags, byte(req.Optimize))
	for _, v := range req.Stamp {
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	}
	for _, s := range [][]byte{[]byte(req.Path), req.Env, req.Args} {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return b
}

var errTruncatedRequest = errors.New("truncated request")

func decodeRequest(b []byte) (*Request, error) {
	if len(b) < 2+32 {
		return nil, errTruncatedRequest
	}
	req := &Request{Unbuffered: b[0]&1 != 0, Optimize: int(b[1])}
	b = b[2:]
	for i := range req.Stamp {
		req.Stamp[i] = int64(binary.LittleEndian.Uint64(b))
		b = b[8:]
	}
	var parts [3][]byte
	for i := range parts {
		if len(b) < 4 {
			return nil, errTruncatedRequest
		}
		n := binary.LittleEndian.Uint32(b)
		b = b[4:]
		if uint64(len(b)) < uint64(n) {
			return nil, errTruncatedRequest
		}
		parts[i], b = b[:n], b[n:]
	}
	req.Path, req.Env, req.Args = string(parts[0]), parts[1], parts[2]
	return req, nil
}

// reply is a worker's answer to a request.
type reply struct {
	ExitCode int
	Retire   bool // the worker is exiting after this request
	Failure  string
}

func (r reply) encode() []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(int32(r.ExitCode)))
	if r.Retire {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	return append(b, r.Failure...)
}

func decodeReply(b []byte) (reply, error) {
	if len(b) < 5 {
		return reply{}, errors.New("truncated reply")
	}
	return reply{ExitCode: int(int32(binary.LittleEndian.Uint32(b))), Retire: b[4] != 0, Failure: string(b[5:])}, nil
}
