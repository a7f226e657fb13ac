package backend

import (
	"fmt"
	"os"
	"runtime"

	"github.com/warmcgi/warmcgi/internal/procmode"
	"github.com/warmcgi/warmcgi/pyhost"
)

// RunScript runs the Python script at path with args as a CGI script in
// an embedded interpreter of its own, on a locked thread that ends with
// it, and returns its standard output (warmcgi check's checker).
func RunScript(path string, args []string) ([]byte, error) {
	if err := pyhost.Init(pyhost.Config{}); err != nil {
		return nil, err
	}
	var res pyhost.Result
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the interpreter
		// The checker imports the scripts' installed modules: judged as
		// --isolation auto judges them, an unsafe extension is refused
		// before its init runs (and reported), as serve would.
		ip, err := pyhost.NewInterp(pyhost.InterpOptions{OwnGIL: pyhost.OwnGILSupported(),
			ExtGuard: newExtJudge(pyhost.OwnGILSupported()).reason})
		if err != nil {
			errc <- err
			return
		}
		defer ip.Close()
		st, err := os.Stat(path)
		if err != nil {
			errc <- err
			return
		}
		errc <- ip.Exec(&pyhost.Request{
			Path:  path,
			Stamp: [4]int64{st.ModTime().UnixNano(), st.Size()},
			Env:   []byte("PATH=/usr/local/bin:/usr/bin:/bin\x00"),
			Args:  procmode.AppendBlock(nil, args),
		}, &res)
	}()
	if err := <-errc; err != nil {
		return nil, err
	}
	if res.Failure != "" {
		return nil, fmt.Errorf("checker failed: %s\n%s", res.Failure, res.Stderr)
	}
	return res.Stdout, nil
}
