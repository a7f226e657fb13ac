package kubernetes_test

// The Deployment's container, played by the real warmcgi binary: its
// arguments (paths moved into a temporary directory), its cgi-bin laid out
// as the kubelet lays out a ConfigMap volume, and, as root, its root file
// system read-only but for the emptyDir, as a non-root user. The probes,
// the HPA's metrics, the resources and the shutdown timing are checked
// against what that process does.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// warmcgiBinary builds cmd/warmcgi once for the package's tests, into a
// directory every user may read (the server runs as nobody under root).
func warmcgiBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "warmcgi-k8s-bin-")
		if err == nil {
			err = os.Chmod(dir, 0o755)
		}
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "warmcgi")
		build := exec.Command("go", "build", "-o", binPath, "./cmd/warmcgi")
		build.Dir = repoRoot
		build.Env = append(os.Environ(), "CGO_ENABLED=1")
		if out, err := build.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/warmcgi: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// helpFlag matches a flag line of `warmcgi serve --help`: the flag's name,
// then "[=true|false]" for a boolean or the value's type.
var helpFlag = regexp.MustCompile(`(?m)^\s+(?:-\w, )?--([a-z0-9-]+)(\[=true\|false\]| \w+)?\s`)

// TestDeploymentArgsAreServeFlags: every flag the Deployment passes is one
// of `warmcgi serve`, and takes a value exactly when the manifests' reading
// of the arguments (flagValues) gives it one.
func TestDeploymentArgsAreServeFlags(t *testing.T) {
	bin := warmcgiBinary(t)
	out, _ := exec.Command(bin, "serve", "--help").CombinedOutput()
	isBool := map[string]bool{}
	for _, m := range helpFlag.FindAllStringSubmatch(string(out), -1) {
		isBool[m[1]] = m[2] == "[=true|false]" || m[2] == ""
	}
	if len(isBool) < 20 {
		t.Fatalf("read %d flags from warmcgi serve --help:\n%s", len(isBool), out)
	}
	c := loadManifests(t).container(t)
	if c.Args[0] != "serve" {
		t.Fatalf("args %q: want serve", c.Args)
	}
	for name, values := range flagValues(t, c.Args[2:]) {
		b, ok := isBool[name]
		switch {
		case !ok:
			t.Errorf("--%s is not a flag of warmcgi serve", name)
		case b != (values[0] == ""):
			t.Errorf("--%s %q: boolean is %v", name, values[0], b)
		}
	}
}

// configMapVolume lays out a ConfigMap volume in dir as the kubelet does
// (its AtomicWriter): the volume directory mode 0777 (the kubelet's
// emptyDir wrapper), the files in a hidden timestamped directory mode
// 0755, "..data" a symlink to it, and each key a symlink into "..data".
func configMapVolume(t *testing.T, dir string, data map[string]string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	ts := writeTimestampDir(t, dir, data, mode)
	if err := os.Symlink(ts, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for key := range data {
		if err := os.Symlink(filepath.Join("..data", key), filepath.Join(dir, key)); err != nil {
			t.Fatal(err)
		}
	}
}

// updateConfigMapVolume changes the volume's files as the kubelet does when
// the ConfigMap changes: a new timestamped directory, "..data" swapped to it
// by a rename, the old directory removed. The keys stay the same.
func updateConfigMapVolume(t *testing.T, dir string, data map[string]string, mode os.FileMode) {
	t.Helper()
	old, err := os.Readlink(filepath.Join(dir, "..data"))
	if err != nil {
		t.Fatal(err)
	}
	ts := writeTimestampDir(t, dir, data, mode)
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(ts, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, old)); err != nil {
		t.Fatal(err)
	}
}

var tsSeq int

func writeTimestampDir(t *testing.T, dir string, data map[string]string, mode os.FileMode) string {
	t.Helper()
	tsSeq++
	name := time.Now().UTC().Format("..2006_01_02_15_04_05.") + strconv.Itoa(tsSeq)
	ts := filepath.Join(dir, name)
	if err := os.Mkdir(ts, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(ts, 0o755); err != nil {
		t.Fatal(err)
	}
	for key, text := range data {
		f := filepath.Join(ts, key)
		if err := os.WriteFile(f, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(f, mode); err != nil {
			t.Fatal(err)
		}
	}
	return name
}

// pod is the container's process and what it printed.
type pod struct {
	cmd        *exec.Cmd
	stderr     *syncBuffer
	httpAddr   string // host:port of --listen
	statusAddr string // host:port of --status
	done       chan struct{}
	exited     time.Time
	waitErr    error
}

// syncBuffer collects a child's output while it runs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// sandboxDir is where, in the sandbox, the test's temporary directory is.
const sandboxDir = "/srv"

// sandbox is the shell that, as root, plays the pod's file system in a mount
// namespace of its own: the test's temporary directory ($1) at /srv, an
// empty tmpfs mode 0777 at the emptyDir's mount path ($2), every other mount
// but /proc, /sys and /dev remounted read-only (readOnlyRootFilesystem),
// which it checks by trying to write; then the server ($3, with DIR as $5)
// as nobody (runAsNonRoot), its environment that of a container.
const sandbox = `set -eu
mount --bind "$1" /srv
e=$2
mount -t tmpfs -o mode=0777 emptydir "$e"
shift 2
for m in $(awk '{print $5}' /proc/self/mountinfo); do
  case "$m" in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*|"$e") continue ;; esac
  mount -o remount,bind,ro "$m" 2>/dev/null || true
done
for d in / /srv "$3"; do
  if (: >"$d/.rw-probe") 2>/dev/null; then rm -f "$d/.rw-probe"; echo "sandbox: $d is still writable" >&2; exit 97; fi
done
exec setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"
`

// inPod returns where a file of the test's temporary directory is for the
// server: under /srv in the sandbox (as root), else where it is.
func inPod(p string) string {
	if os.Geteuid() != 0 {
		return p
	}
	return sandboxDir + strings.TrimPrefix(p, filepath.Clean(os.TempDir()))
}

// startPod runs the binary with the container's arguments, DIR replaced by
// cgiBin and the flags in overrides given other values. As root it runs in the sandbox, where the emptyDir is the pod's
// own path; otherwise as this user, the emptyDir's paths under emptyDir.
func startPod(t *testing.T, m *manifests, bin, cgiBin, emptyDir string, overrides map[string]string) *pod {
	t.Helper()
	c := m.container(t)
	env := []string{"HOME=/nonexistent", "PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"}
	var cmd *exec.Cmd
	if os.Geteuid() == 0 {
		tmp := filepath.Clean(os.TempDir())
		args := adaptArgs(t, c.Args, "", "", inPod(cgiBin), overrides)
		t.Logf("in the sandbox: warmcgi %s", strings.Join(args, " "))
		cmd = exec.Command("unshare", append([]string{"--mount", "--propagation", "private",
			"sh", "-c", sandbox, "sh", tmp, emptyDirMount(t, m), inPod(bin)}, args...)...)
	} else {
		args := adaptArgs(t, c.Args, emptyDirMount(t, m), emptyDir, cgiBin, overrides)
		t.Logf("not root: no sandbox; warmcgi %s", strings.Join(args, " "))
		env = append(env, "TMPDIR="+emptyDir)
		cmd = exec.Command(bin, args...)
	}
	p := &pod{cmd: cmd, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Env = env
	cmd.Stdout = io.Discard // the access log (--access-log -)
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.waitErr = cmd.Wait()
		p.exited = time.Now()
		close(p.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("server log:\n%s", p.stderr.String())
		}
	})
	listening := regexp.MustCompile(`msg=listening url=http://([^/ ]+)/`)
	status := regexp.MustCompile(`msg="status page" url=http://([^/ ]+)/`)
	deadline := time.Now().Add(60 * time.Second)
	for p.httpAddr == "" || p.statusAddr == "" {
		select {
		case <-p.done:
			t.Fatalf("server exited (%v):\n%s", p.waitErr, p.stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not log its addresses:\n%s", p.stderr.String())
		}
		log := p.stderr.String()
		if m := listening.FindStringSubmatch(log); m != nil {
			p.httpAddr = m[1]
		}
		if m := status.FindStringSubmatch(log); m != nil {
			p.statusAddr = m[1]
		}
	}
	return p
}

// local turns a listener's address (0.0.0.0:N) into one to connect to.
func local(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return net.JoinHostPort("127.0.0.1", port)
}

var client = &http.Client{Timeout: 30 * time.Second}

// get fetches a URL and returns its status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

// waitFor polls cond every 50 ms until it holds or the time is up.
func waitFor(limit time.Duration, cond func() bool) bool {
	for end := time.Now().Add(limit); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// scrape reads /metrics of the status listener.
func scrape(t *testing.T, statusAddr string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := get(t, "http://"+local(statusAddr)+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics: %v", err)
	}
	return fams
}

// gauge returns the value of an unlabelled gauge, or -1 if there is none.
func gauge(fams map[string]*dto.MetricFamily, name string) float64 {
	f := fams[name]
	if f == nil || f.GetType() != dto.MetricType_GAUGE || len(f.Metric) != 1 {
		return -1
	}
	return f.Metric[0].GetGauge().GetValue()
}

// adaptArgs gives the Deployment's arguments this machine's paths: DIR the
// ConfigMap volume's stand-in, values under the emptyDir's mount path (if
// not "") under its stand-in, and port 0 for both listeners (their hosts
// are kept), and the flags in overrides their values there.
func adaptArgs(t *testing.T, args []string, emptyMount, emptyDir, cgiBin string, overrides map[string]string) []string {
	t.Helper()
	out := append([]string{args[0], cgiBin}, args[2:]...)
	for i := 2; i < len(out); i++ {
		v, override := overrides[strings.TrimPrefix(out[i-1], "--")]
		switch {
		case override && strings.HasPrefix(out[i-1], "--"):
			out[i] = v
		case (out[i-1] == "--listen" || out[i-1] == "--status") && !strings.HasPrefix(out[i], "--"):
			host, _, err := net.SplitHostPort(out[i])
			if err != nil {
				t.Fatal(err)
			}
			out[i] = net.JoinHostPort(host, "0")
		case emptyMount != "" && strings.HasPrefix(out[i], emptyMount+"/"):
			out[i] = emptyDir + strings.TrimPrefix(out[i], emptyMount)
		}
	}
	return out
}

// emptyDirMount returns the mount path of the container's emptyDir volume.
func emptyDirMount(t *testing.T, m *manifests) string {
	t.Helper()
	for _, vm := range m.container(t).VolumeMounts {
		for _, v := range m.deployment.Spec.Template.Spec.Volumes {
			if v.Name == vm.Name && v.EmptyDir != nil {
				return vm.MountPath
			}
		}
	}
	t.Fatal("no emptyDir volume is mounted")
	return ""
}

// gatedScript holds a worker until the file gate exists (30 s at most), so
// the test can look at the metrics and stop the server while it runs.
func gatedScript(gate string) string {
	return fmt.Sprintf(`#!/usr/bin/python3
import os, time
deadline = time.monotonic() + 30
while not os.path.exists(%q) and time.monotonic() < deadline:
    time.sleep(0.01)
print("Content-Type: text/plain")
print()
print("released")
`, gate)
}

// TestDeploymentOnRealBinary: the container as Kubernetes would run it.
// The server starts with the Deployment's arguments (so every flag exists
// and parses) on the ConfigMap's scripts in a kubelet-style volume; the
// probes' paths answer 200 on the probes' port; the example scripts
// answer, an upload over 1 MiB too (spooled to the emptyDir); a changed
// ConfigMap is served at once; the HPA's metrics are gauges of /metrics
// that follow the load; warmcgi_workers is the CPU limit; the resident
// memory fits the memory request; and on SIGTERM /readyz turns 503, new
// connections are refused (what preStop covers), the requests in flight
// finish, and the process exits within terminationGracePeriodSeconds.
func TestDeploymentOnRealBinary(t *testing.T) {
	m := loadManifests(t)
	c := m.container(t)
	bin := warmcgiBinary(t)
	top, err := os.MkdirTemp("", "warmcgi-k8s-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(top) })
	if err := os.Chmod(top, 0o755); err != nil {
		t.Fatal(err)
	}
	cgiBin, emptyDir := filepath.Join(top, "cgi-bin"), filepath.Join(top, "tmp")
	if err := os.Mkdir(emptyDir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(emptyDir, 0o777); err != nil {
		t.Fatal(err)
	}
	gate := filepath.Join(top, "gate")
	data := map[string]string{"gated.py": gatedScript(inPod(gate)), "stuck.py": gatedScript(inPod(filepath.Join(top, "never")))}
	for k, v := range m.configMap.Data {
		data[k] = v
	}
	var vol *corev1.ConfigMapVolumeSource
	for _, v := range m.deployment.Spec.Template.Spec.Volumes {
		if v.ConfigMap != nil {
			vol = v.ConfigMap
		}
	}
	mode := os.FileMode(*vol.DefaultMode)
	configMapVolume(t, cgiBin, data, mode)
	p := startPod(t, m, bin, cgiBin, emptyDir, nil)

	checkProbes(t, c, p)
	base := "http://" + local(p.httpAddr)
	checkScripts(t, base)

	// kubectl apply of a changed ConfigMap.
	data["hello.py"] = strings.Replace(data["hello.py"], "Hello, world!", "Hello, updated!", 1)
	updateConfigMapVolume(t, cgiBin, data, mode)
	if !waitFor(2*time.Second, func() bool { _, body := get(t, base+"/cgi-bin/hello.py"); return strings.Contains(body, "updated") }) {
		t.Errorf("hello.py not updated 2 s after the ConfigMap volume changed")
	}

	checkMetrics(t, m, c, p)
	checkShutdown(t, m, c, p, base, gate)
	// Nothing the server says about itself is a warning (the scripts' own
	// stderr is logged at Warn too, with their name).
	for _, line := range strings.Split(p.stderr.String(), "\n") {
		if strings.Contains(line, "level=WARN") && !strings.Contains(line, " script=") || strings.Contains(line, "level=ERROR") {
			t.Errorf("server logged: %s", line)
		}
	}
	if !t.Failed() {
		checkStuckShutdown(t, m, c, bin, cgiBin, emptyDir)
	}
}

// checkProbes: both probes' paths answer 200 on the port they name, which is
// the status listener's, bound to all addresses (the kubelet probes the pod
// IP).
func checkProbes(t *testing.T, c *corev1.Container, p *pod) {
	t.Helper()
	host, _, _ := net.SplitHostPort(p.statusAddr)
	if ip := net.ParseIP(host); ip == nil || !ip.IsUnspecified() {
		t.Errorf("status listener on %s: the kubelet probes the pod IP, not loopback", p.statusAddr)
	}
	for what, probe := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if probe == nil || probe.HTTPGet == nil {
			t.Fatalf("%s probe: want httpGet", what)
		}
		if got, want := containerPort(t, c, probe.HTTPGet.Port.String()), port(t, flagValues(t, c.Args[2:])["status"][0]); got != want {
			t.Errorf("%s probe on port %d, --status is on %d", what, got, want)
		}
		url := "http://" + local(p.statusAddr) + probe.HTTPGet.Path
		ok := waitFor(60*time.Second, func() bool { code, _ := get(t, url); return code == http.StatusOK })
		if !ok {
			code, body := get(t, url)
			t.Errorf("%s probe %s: %d %q", what, url, code, body)
		}
	}
	if got := c.ReadinessProbe.HTTPGet.Path + " " + c.LivenessProbe.HTTPGet.Path; got != "/readyz /healthz" {
		t.Errorf("probe paths %s, want /readyz /healthz", got)
	}
	// The scripts' port does not serve them: a probe there would fail.
	if code, _ := get(t, "http://"+local(p.httpAddr)+"/readyz"); code == http.StatusOK {
		t.Errorf("/readyz answers 200 on the scripts' port too; the test assumed it does not")
	}
}

// checkScripts fetches the ConfigMap's scripts, and posts a file larger
// than what warmcgi keeps in memory, so the body is spooled to $TMPDIR.
func checkScripts(t *testing.T, base string) {
	t.Helper()
	if code, body := get(t, base+"/cgi-bin/hello.py"); code != 200 || !strings.Contains(body, "Hello, world!") {
		t.Errorf("hello.py: %d %q", code, body)
	}
	if code, body := get(t, base+"/cgi-bin/form.py"); code != 200 || !strings.Contains(body, "Sign the guestbook") {
		t.Errorf("form.py: %d %q", code, body)
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("name", "kube")
	fw, _ := mw.CreateFormFile("picture", "big.bin")
	fw.Write(bytes.Repeat([]byte{'x'}, 2<<20))
	mw.Close()
	resp, err := client.Post(base+"/cgi-bin/form.py", mw.FormDataContentType(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "big.bin (2097152 bytes)") {
		t.Errorf("2 MiB upload to form.py: %d %q", resp.StatusCode, body)
	}
}

// checkMetrics: the HPA's metrics are gauges of /metrics, warmcgi_workers
// is --workers (the CPU limit), the resident memory is within the request.
func checkMetrics(t *testing.T, m *manifests, c *corev1.Container, p *pod) {
	t.Helper()
	fams := scrape(t, p.statusAddr)
	for _, mt := range m.hpa.Spec.Metrics {
		if name := mt.Pods.Metric.Name; gauge(fams, name) < 0 {
			t.Errorf("HPA metric %s is not an unlabelled gauge of /metrics", name)
		}
	}
	workers, _ := strconv.Atoi(flagValues(t, c.Args[2:])["workers"][0])
	if got := gauge(fams, "warmcgi_workers"); got != float64(workers) {
		t.Errorf("warmcgi_workers %v, --workers %d", got, workers)
	}
	rss := gauge(fams, "process_resident_memory_bytes")
	req := c.Resources.Requests[corev1.ResourceMemory]
	t.Logf("resident memory after the example scripts: %.1f MiB (request %s)", rss/(1<<20), req.String())
	if rss <= 0 || rss > float64(req.Value()) {
		t.Errorf("resident memory %.0f bytes, memory request %s", rss, req.String())
	}
}

// checkShutdown loads every worker and one more request, checks that the
// HPA's metrics show it, then stops the server as the kubelet does after
// preStop: readiness goes, the listener closes, the requests in flight
// finish, the server exits.
func checkShutdown(t *testing.T, m *manifests, c *corev1.Container, p *pod, base, gate string) {
	t.Helper()
	flags := flagValues(t, c.Args[2:])
	workers, _ := strconv.Atoi(flags["workers"][0])
	results := make(chan string, workers+1)
	var lastDone time.Time
	var mu sync.Mutex
	for range workers + 1 {
		go func() {
			resp, err := client.Get(base + "/cgi-bin/gated.py")
			if err != nil {
				results <- err.Error()
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			mu.Lock()
			lastDone = time.Now()
			mu.Unlock()
			results <- fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(body)))
		}()
	}
	var busy, queued float64
	loaded := waitFor(10*time.Second, func() bool {
		fams := scrape(t, p.statusAddr)
		busy, queued = gauge(fams, "warmcgi_workers_busy"), gauge(fams, "warmcgi_queue_length")
		return busy == float64(workers) && queued == 1
	})
	if !loaded {
		t.Errorf("%d held requests on %d workers: warmcgi_workers_busy %v, warmcgi_queue_length %v", workers+1, workers, busy, queued)
	}

	term := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	ready := "http://" + local(p.statusAddr) + "/readyz"
	if !waitFor(time.Second, func() bool { code, _ := get(t, ready); return code == http.StatusServiceUnavailable }) {
		t.Errorf("/readyz not 503 within 1 s of SIGTERM")
	}
	if conn, err := net.DialTimeout("tcp", local(p.httpAddr), time.Second); err == nil {
		conn.Close()
		t.Errorf("the scripts' port still accepts connections after SIGTERM; the test assumed it does not (preStop covers that gap)")
	}
	// The requests were still held: they are in flight during the drain.
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for range workers + 1 {
		if r := <-results; r != "200 released" {
			t.Errorf("request in flight at SIGTERM: %s", r)
		}
	}
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatal("server still running 60 s after SIGTERM")
	}
	if p.waitErr != nil {
		var ee *exec.ExitError
		if !errors.As(p.waitErr, &ee) || ee.ExitCode() != 0 {
			t.Errorf("server exit after SIGTERM: %v", p.waitErr)
		}
	}
	mu.Lock()
	closing := p.exited.Sub(lastDone)
	mu.Unlock()
	shutdown, err := time.ParseDuration(flags["shutdown-timeout"][0])
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("drain with every request finishing: SIGTERM to exit %v, of which %v after the last request ended",
		p.exited.Sub(term).Round(time.Millisecond), closing.Round(time.Millisecond))
	if p.exited.Sub(term) >= shutdown {
		t.Errorf("the server took %v to stop after its requests ended; --shutdown-timeout is %v", p.exited.Sub(term), shutdown)
	}
}

// checkStuckShutdown: the worst case terminationGracePeriodSeconds must
// cover, a request still running when --shutdown-timeout ends: the time
// from SIGTERM to exit must be --shutdown-timeout, not a multiple of it
// (warmcgi once gave its workers the timeout again after the drain). It is
// measured with the timeout at 2 s (not the Deployment's 20 s, to keep the
// test short) and scaled to the Deployment's.
func checkStuckShutdown(t *testing.T, m *manifests, c *corev1.Container, bin, cgiBin, emptyDir string) {
	t.Helper()
	const scaled = 2 * time.Second
	p := startPod(t, m, bin, cgiBin, emptyDir, map[string]string{"shutdown-timeout": scaled.String()})
	ready := "http://" + local(p.statusAddr) + "/readyz"
	if !waitFor(60*time.Second, func() bool { code, _ := get(t, ready); return code == http.StatusOK }) {
		t.Fatal("second server never ready")
	}
	go func() {
		if resp, err := client.Get("http://" + local(p.httpAddr) + "/cgi-bin/stuck.py"); err == nil {
			resp.Body.Close()
		}
	}()
	if !waitFor(10*time.Second, func() bool { return gauge(scrape(t, p.statusAddr), "warmcgi_workers_busy") == 1 }) {
		t.Fatal("stuck.py never ran")
	}
	term := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatal("server still running 60 s after SIGTERM")
	}
	took := p.exited.Sub(term)
	if took < scaled {
		t.Errorf("server exited %v after SIGTERM with a request in flight: it did not wait --shutdown-timeout %v", took, scaled)
	}
	factor := took.Seconds() / scaled.Seconds()
	if factor > 1.5 {
		t.Errorf("server exited %v after SIGTERM: --shutdown-timeout %v bounds the whole stop", took, scaled)
	}
	shutdown, err := time.ParseDuration(flagValues(t, c.Args[2:])["shutdown-timeout"][0])
	if err != nil {
		t.Fatal(err)
	}
	pre, err := strconv.Atoi(c.Lifecycle.PreStop.Exec.Command[1])
	if err != nil {
		t.Fatal(err)
	}
	worst := time.Duration(pre)*time.Second + time.Duration(factor*float64(shutdown))
	grace := time.Duration(*m.deployment.Spec.Template.Spec.TerminationGracePeriodSeconds) * time.Second
	const margin = 5 * time.Second
	t.Logf("a request outlasting the drain: exit %v after SIGTERM with --shutdown-timeout %v (%.2f times); with the Deployment's: preStop %ds + %v = %v, grace %v",
		took.Round(time.Millisecond), scaled, factor, pre, time.Duration(factor*float64(shutdown)).Round(time.Millisecond), worst.Round(time.Millisecond), grace)
	if worst+margin > grace {
		t.Errorf("terminationGracePeriodSeconds %v is short of preStop + %.2f x --shutdown-timeout %v + margin %v = %v",
			grace, factor, shutdown, margin, (worst + margin).Round(time.Millisecond))
	}
}
