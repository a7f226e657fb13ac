package procmode

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

func TestRequestRoundTrip(t *testing.T) {
	for _, req := range []*Request{
		{Path: "/srv/cgi-bin/hello.py", Stamp: [4]int64{1700000000123456789, 42, 1234567, 2049},
			Env: []byte("A=1\x00B=2\x00"), Args: []byte("x\x00")},
		{Path: "/s", Unbuffered: true, Optimize: 2, Stamp: [4]int64{-1, 0, 1 << 62, 7}},
		{Path: "", Env: []byte{}, Args: []byte{}},
	} {
		got, err := decodeRequest(encodeRequest(nil, req))
		if err != nil {
			t.Fatalf("decode(encode(%+v)): %v", req, err)
		}
		// Empty and nil blocks read back alike.
		want := *req
		if len(want.Env) == 0 {
			want.Env = got.Env
		}
		if len(want.Args) == 0 {
			want.Args = got.Args
		}
		if !reflect.DeepEqual(got, &want) {
			t.Errorf("round trip: got %+v, want %+v", got, &want)
		}
	}
}

func TestDecodeRequestMalformed(t *testing.T) {
	full := encodeRequest(nil, &Request{Path: "/s.py", Env: []byte("A=1\x00"), Args: []byte("a\x00")})
	tests := map[string][]byte{
		"empty":               nil,
		"flags only":          full[:2],
		"stamp cut":           full[:2+31],
		"no path length":      full[:2+32],
		"path cut":            full[:2+32+4+2],
		"no env length":       full[:2+32+4+5],
		"args cut":            full[:len(full)-1],
		"length past the end": append(append([]byte{}, full[:2+32]...), 0xff, 0xff, 0xff, 0xff),
	}
	for name, b := range tests {
		if _, err := decodeRequest(b); err == nil {
			t.Errorf("%s: decodeRequest accepted %d bytes", name, len(b))
		}
	}
}

func TestReplyRoundTrip(t *testing.T) {
	for _, r := range []reply{{}, {ExitCode: -1, Retire: true, Failure: "boom"}, {ExitCode: 137, Failure: strings.Repeat("x", 1000)}} {
		got, err := decodeReply(r.encode())
		if err != nil || got != r {
			t.Errorf("decodeReply(encode(%+v)) = %+v, %v", r, got, err)
		}
	}
	for _, b := range [][]byte{nil, {1, 0, 0, 0}} {
		if _, err := decodeReply(b); err == nil {
			t.Errorf("decodeReply(%v) accepted a truncated reply", b)
		}
	}
}

func TestReadFrame(t *testing.T) {
	var buf bytes.Buffer
	if err := writeFrame(&buf, msgDone, []byte("payload")); err != nil {
		t.Fatal(err)
	}
	if err := writeFrame(&buf, msgReady, nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []frame{{msgDone, []byte("payload")}, {msgReady, []byte{}}} {
		f, err := readFrame(&buf)
		if err != nil || f.typ != want.typ || !bytes.Equal(f.payload, want.payload) {
			t.Errorf("readFrame = %q %q, %v; want %q %q", f.typ, f.payload, err, want.typ, want.payload)
		}
	}
	if _, err := readFrame(&buf); err != io.EOF {
		t.Errorf("readFrame at the end: %v, want EOF", err)
	}

	oversize := frameHeader(msgDone, maxFrame+1)
	if _, err := readFrame(bytes.NewReader(oversize[:])); err == nil {
		t.Error("readFrame accepted a frame above maxFrame")
	}
	cut := frameHeader(msgDone, 10)
	if _, err := readFrame(bytes.NewReader(append(cut[:], "short"...))); err == nil {
		t.Error("readFrame accepted a cut payload")
	}
	if _, err := readFrame(bytes.NewReader([]byte{msgDone, 1})); err == nil {
		t.Error("readFrame accepted a cut header")
	}
}

// TestRequestFrameOverSocket sends a request frame with three descriptors
// as the server does and reads it as a worker does.
func TestRequestFrameOverSocket(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	server, worker := os.NewFile(uintptr(fds[0]), "server"), os.NewFile(uintptr(fds[1]), "worker")
	defer server.Close()
	defer worker.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()

	req := &Request{Path: "/s.py", Stamp: [4]int64{1, 2, 3, 4}, Optimize: 1, Env: []byte("A=1\x00"), Args: []byte{}}
	payload := encodeRequest(nil, req)
	hdr := frameHeader(msgRequest, len(payload))
	rights := syscall.UnixRights(int(r.Fd()), int(w.Fd()), int(w.Fd()))
	if err := syscall.Sendmsg(int(server.Fd()), hdr[:], rights, nil, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := server.Write(payload); err != nil {
		t.Fatal(err)
	}
	_, buf, got, err := readRequestFrame(worker, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFDs(got)
	if len(got) != 3 {
		t.Fatalf("got %d descriptors, want 3", len(got))
	}
	dec, err := decodeRequest(buf)
	if err != nil || !reflect.DeepEqual(dec, req) {
		t.Errorf("decoded %+v, %v; want %+v", dec, err, req)
	}

	// A frame of another type, or above maxFrame, is refused.
	for _, h := range [][headerLen]byte{frameHeader(msgDone, 0), frameHeader(msgRequest, maxFrame+1)} {
		if _, err := server.Write(h[:]); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := readRequestFrame(worker, nil); err == nil {
			t.Errorf("readRequestFrame accepted header %q %d", h[0], binary.LittleEndian.Uint32(h[1:]))
		}
	}
	server.Close()
	if _, _, _, err := readRequestFrame(worker, nil); err != io.EOF {
		t.Errorf("after the server closed: %v, want EOF", err)
	}
}
