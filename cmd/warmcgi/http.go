package main

// warmcgi http: a drop-in for python3 -m http.server --cgi, which Python
// 3.15 removes. Flags only; the static files are internal/frontend.Static.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/pflag"
	"github.com/warmcgi/warmcgi/internal/server"
)

const httpUsage = `Usage: warmcgi http [flags] [DIR] [PORT]

A drop-in for "python3 -m http.server --cgi": serves the files of DIR (default:
the current directory) and runs the scripts in DIR/cgi-bin/ and DIR/htbin/, at
http://127.0.0.1:8000/. The same as
  warmcgi serve DIR/cgi-bin --static DIR --static-listing --listen 127.0.0.1:8000
with DIR/htbin/ as a second script directory.

Differences from http.server (README, "Drop-in for python3 -m http.server --cgi"):
  - it listens on 127.0.0.1 only; http.server listens on every interface
    (--bind 0.0.0.0 or --bind :: for that);
  - a script's Status: and Location: headers are obeyed (http.server always
    answers 200 "Script output follows"); scripts run in their own directory
    with Apache's environment (http.server: in DIR, CONTENT_TYPE=text/plain
    and empty PATH_INFO and CONTENT_LENGTH when the request has none);
  - Range requests get 206; POST to a file is 405 (http.server: 501);
  - hidden files (.git, .env) are 404, a symbolic link leaving DIR is 403;
  - error pages are Apache's; there is no Server header.
A numeric PORT is a port; use --directory for a directory named like one.

Every 'warmcgi serve' flag applies too (see 'warmcgi serve --help'), but
--listen, --prefix, --cgi, --static and --static-listing, which http sets.

Flags:
`

// httpFlags are the flags of warmcgi http beside serve's.
type httpFlags struct {
	bind, directory string
	cgi             bool
}

// newHTTPFlags is serve's flag set with http.server's own flags in place
// of those http sets itself.
func newHTTPFlags(c *serveConfig, hf *httpFlags, stderr io.Writer) *pflag.FlagSet {
	own := pflag.NewFlagSet("warmcgi http", pflag.ContinueOnError)
	own.SortFlags = false
	own.StringVarP(&hf.bind, "bind", "b", "127.0.0.1", "address to listen on (http.server's default is every interface: "+
		"give 0.0.0.0 or :: for that, knowing that anyone who can reach the port can run the scripts)")
	own.StringVarP(&hf.directory, "directory", "d", "", "the directory to serve (default: DIR, else the current directory)")
	own.BoolVar(&hf.cgi, "cgi", false, "accepted for http.server's command line: cgi-bin/ and htbin/ always run scripts")
	fs := pflag.NewFlagSet("warmcgi http", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	fs.AddFlagSet(own)
	serveFlags := newServeFlags(c, stderr)
	serveFlags.VisitAll(func(f *pflag.Flag) {
		switch f.Name {
		case "listen", "prefix", "cgi", "static", "static-listing":
			return
		}
		fs.AddFlag(f)
	})
	fs.Usage = func() {
		fmt.Fprint(stderr, httpUsage)
		own.SetOutput(stderr)
		own.PrintDefaults() // serve's flags are in serve --help
	}
	return fs
}

func httpCmd(ctx context.Context, release func(), args []string, stdout, stderr io.Writer) int {
	server.TuneGC()
	var c serveConfig
	var hf httpFlags
	fs := newHTTPFlags(&c, &hf, stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	dir, port, err := httpArgs(fs.Args(), hf.directory)
	if err != nil {
		fmt.Fprintf(stderr, "warmcgi http: %v\n", err)
		fs.Usage()
		return exitUsage
	}
	if dir, err = filepath.Abs(dir); err != nil {
		fmt.Fprintf(stderr, "warmcgi http: %v\n", err)
		return exitUsage
	}
	c.dir = filepath.Join(dir, "cgi-bin")
	c.prefix = "/cgi-bin/"
	c.static, c.staticListing = dir, true
	c.listen = net.JoinHostPort(hf.bind, port)
	cfg, err := serverConfig(&c, fs, stdout, stderr)
	if err == nil {
		htbin := c // http.server's other cgi_directories entry
		htbin.dir, htbin.prefix = filepath.Join(dir, "htbin"), "/htbin/"
		h, herr := newHandler(&htbin, cfg.Logger)
		cfg.MoreScripts, err = append(cfg.MoreScripts, h), herr
	}
	if err != nil {
		fmt.Fprintf(stderr, "warmcgi http: %v\n", err)
		return exitUsage
	}
	return runServer(ctx, release, cfg, "http", stderr)
}

// httpArgs reads http's positional arguments, [DIR] [PORT] in either
// order as a number is the port, against --directory.
func httpArgs(args []string, directory string) (dir, port string, err error) {
	dir, port = directory, "8000"
	var haveDir, havePort bool
	for _, a := range args {
		if n, err := strconv.ParseUint(a, 10, 16); err == nil {
			if havePort {
				return "", "", fmt.Errorf("two ports: %s and %s", port, a)
			}
			port, havePort = strconv.FormatUint(n, 10), true
			continue
		}
		if haveDir || directory != "" {
			return "", "", fmt.Errorf("more than one directory: %q (a port is a number from 0 to 65535)", a)
		}
		dir, haveDir = a, true
	}
	if dir == "" {
		if dir, err = os.Getwd(); err != nil {
			return "", "", err
		}
	}
	return dir, port, nil
}
