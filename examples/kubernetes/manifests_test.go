package kubernetes_test

// The manifests of this directory, decoded as the API server would take
// them (the Kubernetes API types, unknown, duplicate and miscased fields
// refused), and held to the repository's Dockerfile and to each other.
// server_test.go holds them to the real binary.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/template"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// repoRoot is the repository's top directory, seen from this package.
const repoRoot = "../.."

// manifests are the objects of this directory's YAML files.
type manifests struct {
	deployment *appsv1.Deployment
	service    *corev1.Service
	configMap  *corev1.ConfigMap
	hpa        *autoscalingv2.HorizontalPodAutoscaler
	pdb        *policyv1.PodDisruptionBudget
}

// docSeparator splits a YAML stream into documents.
var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// decodeStrict decodes one YAML document into the API type its apiVersion
// and kind name: with sigs.k8s.io/yaml's UnmarshalStrict (unknown and
// duplicate fields are errors), then again from JSON with sigs.k8s.io/json's
// strict decoder, which the API server uses and which, unlike
// encoding/json, also refuses a field spelled in another case. It returns
// nil for a document of comments only.
func decodeStrict(doc []byte) (any, error) {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, err
	}
	if string(js) == "null" {
		return nil, nil
	}
	var tm metav1.TypeMeta
	if err := json.Unmarshal(js, &tm); err != nil {
		return nil, err
	}
	var obj any
	switch tm.APIVersion + " " + tm.Kind {
	case "apps/v1 Deployment":
		obj = &appsv1.Deployment{}
	case "v1 Service":
		obj = &corev1.Service{}
	case "v1 ConfigMap":
		obj = &corev1.ConfigMap{}
	case "autoscaling/v2 HorizontalPodAutoscaler":
		obj = &autoscalingv2.HorizontalPodAutoscaler{}
	case "policy/v1 PodDisruptionBudget":
		obj = &policyv1.PodDisruptionBudget{}
	default:
		return nil, fmt.Errorf("unexpected object %q %q", tm.APIVersion, tm.Kind)
	}
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return nil, err
	}
	strictErrs, err := sigsjson.UnmarshalStrict(js, obj, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
	if err != nil {
		return nil, err
	}
	if len(strictErrs) > 0 {
		return nil, fmt.Errorf("strict decoding: %v", strictErrs)
	}
	return obj, nil
}

// loadManifests decodes every *.yaml file of this directory.
func loadManifests(t *testing.T) *manifests {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests (%v)", err)
	}
	m := &manifests{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range docSeparator.Split(string(src), -1) {
			obj, err := decodeStrict([]byte(doc))
			if err != nil {
				t.Fatalf("%s, document %d: %v", f, i+1, err)
			}
			if !m.add(obj) {
				t.Fatalf("%s, document %d: a second %T", f, i+1, obj)
			}
		}
	}
	if m.deployment == nil || m.service == nil || m.configMap == nil || m.hpa == nil || m.pdb == nil {
		t.Fatalf("want a Deployment, a Service, a ConfigMap, a HorizontalPodAutoscaler and a PodDisruptionBudget; got %+v", m)
	}
	return m
}

// add records a decoded object; false if one of its kind is already there.
func (m *manifests) add(obj any) bool {
	switch o := obj.(type) {
	case nil:
		return true
	case *appsv1.Deployment:
		return setOnce(&m.deployment, o)
	case *corev1.Service:
		return setOnce(&m.service, o)
	case *corev1.ConfigMap:
		return setOnce(&m.configMap, o)
	case *autoscalingv2.HorizontalPodAutoscaler:
		return setOnce(&m.hpa, o)
	case *policyv1.PodDisruptionBudget:
		return setOnce(&m.pdb, o)
	}
	return false
}

func setOnce[T any](p **T, v *T) bool {
	if *p != nil {
		return false
	}
	*p = v
	return true
}

// container returns the Deployment's one container.
func (m *manifests) container(t *testing.T) *corev1.Container {
	t.Helper()
	cs := m.deployment.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("want one container, got %d", len(cs))
	}
	return &cs[0]
}

// TestManifestsDecodeStrictly: every manifest decodes into its API type
// with nothing left over, and the decoder used refuses what the API server
// would (so the test can fail): an unknown field, a duplicate one, a field
// in the wrong case, a value of the wrong type.
func TestManifestsDecodeStrictly(t *testing.T) {
	m := loadManifests(t)
	src, err := os.ReadFile("deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const field = "\n      terminationGracePeriodSeconds: "
	for name, edit := range map[string][2]string{
		"unknown field":   {field, "\n      terminationGracePeriod: "},
		"duplicate field": {field, field + "41" + field},
		"field case":      {field, "\n      TerminationGracePeriodSeconds: "},
		"wrong type":      {field, field + "forty #"},
	} {
		bad := strings.Replace(string(src), edit[0], edit[1], 1)
		if bad == string(src) {
			t.Fatalf("%s: deployment.yaml has no %q to edit", name, edit[0])
		}
		_, err := decodeStrict([]byte(bad))
		if err == nil {
			t.Errorf("%s: decoded without an error", name)
			continue
		}
		t.Logf("%s refused: %v", name, err)
	}
	if m.deployment.Spec.Template.Spec.TerminationGracePeriodSeconds == nil {
		t.Errorf("terminationGracePeriodSeconds did not decode")
	}
}

// dockerfile is what the Deployment takes from the Dockerfile's last stage.
type dockerfile struct {
	user string   // USER
	uid  int64    // that user's --uid in the stage's useradd
	cmd  []string // CMD, exec form
}

// readDockerfile reads the repository's Dockerfile: the runtime stage's
// USER, the uid its useradd gives that user, and its CMD.
func readDockerfile(t *testing.T) dockerfile {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var df dockerfile
	uids := map[string]int64{}
	joined := strings.ReplaceAll(string(src), "\\\n", " ")
	for _, line := range strings.Split(joined, "\n") {
		instr, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch strings.ToUpper(instr) {
		case "FROM": // a new stage: only the last one's lines count
			df, uids = dockerfile{}, map[string]int64{}
		case "USER":
			df.user = strings.TrimSpace(rest)
		case "CMD":
			if err := json.Unmarshal([]byte(rest), &df.cmd); err != nil {
				t.Fatalf("Dockerfile CMD is not in exec form: %v", err)
			}
		case "RUN":
			for _, c := range strings.Split(rest, "&&") {
				f := strings.Fields(c)
				if len(f) < 2 || f[0] != "useradd" {
					continue
				}
				if i := slices.Index(f, "--uid"); i > 0 && i+1 < len(f) {
					uid, err := strconv.ParseInt(f[i+1], 10, 64)
					if err != nil {
						t.Fatalf("useradd --uid %q: %v", f[i+1], err)
					}
					uids[f[len(f)-1]] = uid
				}
			}
		}
	}
	uid, ok := uids[df.user]
	if !ok {
		t.Fatalf("Dockerfile: USER %q is not created with useradd --uid N in the runtime stage", df.user)
	}
	df.uid = uid
	if len(df.cmd) < 2 {
		t.Fatalf("Dockerfile CMD %q: want serve DIR ...", df.cmd)
	}
	return df
}

// TestDeploymentMatchesDockerfile: the pod runs the image's entrypoint with
// the CMD's subcommand, DIR and flags (the status address may differ only
// in its host), as the image's user, whose uid runAsNonRoot can check.
func TestDeploymentMatchesDockerfile(t *testing.T) {
	m := loadManifests(t)
	df := readDockerfile(t)
	c := m.container(t)
	if len(c.Command) > 0 {
		t.Errorf("command %q replaces the image's ENTRYPOINT (tini, which reaps scripts' orphans)", c.Command)
	}
	if !slices.Equal(c.Args[:2], df.cmd[:2]) {
		t.Errorf("args begin %q, the Dockerfile's CMD %q", c.Args[:2], df.cmd[:2])
	}
	want := flagValues(t, df.cmd[2:])
	got := flagValues(t, c.Args[2:])
	for name, v := range want {
		switch {
		case len(got[name]) == 0:
			t.Errorf("args lack the CMD's --%s", name)
		case name == "status":
			if port(t, got[name][0]) != port(t, v[0]) {
				t.Errorf("--status %s: not the CMD's port (%s)", got[name][0], v[0])
			}
		case !slices.Equal(got[name], v):
			t.Errorf("--%s %q, the CMD has %q", name, got[name], v)
		}
	}
	sc := m.deployment.Spec.Template.Spec.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil {
		t.Fatalf("pod securityContext %+v: want runAsNonRoot and runAsUser", sc)
	}
	if *sc.RunAsUser != df.uid {
		t.Errorf("runAsUser %d, the image's USER %s is uid %d", *sc.RunAsUser, df.user, df.uid)
	}
	// What the sandbox of server_test.go plays: a read-only root, no way
	// back to privileges.
	csc := c.SecurityContext
	if csc == nil || csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem ||
		csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation ||
		csc.Capabilities == nil || !slices.Equal(csc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("container securityContext %+v: want readOnlyRootFilesystem, no privilege escalation, capabilities dropped", csc)
	}
}

// flagValues maps each --flag of args to its values: a flag followed by
// another flag, or last, is a boolean, with the value "" (server_test.go
// holds this reading to the binary's --help).
func flagValues(t *testing.T, args []string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for i := 0; i < len(args); i++ {
		name, ok := strings.CutPrefix(args[i], "--")
		if !ok {
			t.Fatalf("argument %q where a flag was expected", args[i])
		}
		v := ""
		if i+1 < len(args) && !strings.HasPrefix(args[i+1], "--") {
			v = args[i+1]
			i++
		}
		out[name] = append(out[name], v)
	}
	return out
}

// port returns the port of a host:port address.
func port(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// containerPort returns the number of the container port a probe or a
// Service names.
func containerPort(t *testing.T, c *corev1.Container, name string) int {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == name {
			return int(p.ContainerPort)
		}
	}
	t.Fatalf("container has no port named %q", name)
	return 0
}

// TestManifestsAgreeWithEachOther: selectors select the pods (the
// PodDisruptionBudget's too, which leaves one of the HPA's minimum), the Service
// and the probes name ports that exist, the volumes are where the
// arguments say, the ConfigMap holds the repository's example scripts, and
// the HPA scales this Deployment.
func TestManifestsAgreeWithEachOther(t *testing.T) {
	m := loadManifests(t)
	d, c := m.deployment, m.container(t)
	pod := labels.Set(d.Spec.Template.Labels)
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(pod) {
		t.Errorf("Deployment selector %v does not select its pods %v (%v)", d.Spec.Selector, pod, err)
	}
	if s := labels.SelectorFromSet(m.service.Spec.Selector); len(m.service.Spec.Selector) == 0 || !s.Matches(pod) {
		t.Errorf("Service selector %v does not select the pods %v", m.service.Spec.Selector, pod)
	}
	if s, err := metav1.LabelSelectorAsSelector(m.pdb.Spec.Selector); err != nil || s.Empty() || !s.Matches(pod) {
		t.Errorf("PodDisruptionBudget selector %v does not select the pods %v (%v)", m.pdb.Spec.Selector, pod, err)
	}
	if mu := m.pdb.Spec.MaxUnavailable; mu == nil || mu.IntValue() >= int(*m.hpa.Spec.MinReplicas) {
		t.Errorf("PodDisruptionBudget maxUnavailable %v: with the HPA's minReplicas %d, a drain could take every pod", mu, *m.hpa.Spec.MinReplicas)
	}
	for _, p := range m.service.Spec.Ports {
		if got, want := containerPort(t, c, p.TargetPort.String()), port(t, flagValues(t, c.Args[2:])["listen"][0]); got != want {
			t.Errorf("Service targets port %d, --listen is on %d", got, want)
		}
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, vm := range c.VolumeMounts {
		mounts[vm.MountPath] = vm
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range d.Spec.Template.Spec.Volumes {
		volumes[v.Name] = v
	}
	dir := c.Args[1]
	cgi := volumes[mounts[dir].Name].ConfigMap
	switch {
	case cgi == nil:
		t.Errorf("DIR %s is not a ConfigMap volume's mount", dir)
	case !mounts[dir].ReadOnly:
		t.Errorf("DIR %s is mounted writable", dir)
	case cgi.Name != m.configMap.Name:
		t.Errorf("DIR mounts ConfigMap %q, configmap.yaml is %q", cgi.Name, m.configMap.Name)
	case cgi.DefaultMode == nil || *cgi.DefaultMode != 0o755:
		t.Errorf("ConfigMap volume defaultMode %v: scripts must be executable (0755)", cgi.DefaultMode)
	}
	for name, text := range m.configMap.Data {
		want, err := os.ReadFile(filepath.Join(repoRoot, "examples", "cgi-bin", name))
		if err != nil || string(want) != text {
			t.Errorf("ConfigMap key %s is not examples/cgi-bin/%s (%v)", name, name, err)
		}
	}
	tgt := m.hpa.Spec.ScaleTargetRef
	if tgt.APIVersion != "apps/v1" || tgt.Kind != "Deployment" || tgt.Name != d.Name {
		t.Errorf("HPA scales %+v, not Deployment %s", tgt, d.Name)
	}
	if d.Spec.Replicas != nil {
		t.Errorf("Deployment sets replicas %d: kubectl apply would reset the HPA's count", *d.Spec.Replicas)
	}
}

// TestResourcesMatchWorkers: requests equal limits, and the CPU is
// --workers whole cores; the busy-workers target of the HPA is below it.
func TestResourcesMatchWorkers(t *testing.T) {
	m := loadManifests(t)
	c := m.container(t)
	flags := flagValues(t, c.Args[2:])
	if len(flags["workers"]) != 1 {
		t.Fatalf("args set --workers %d times; the default is the node's CPU count", len(flags["workers"]))
	}
	workers, err := strconv.Atoi(flags["workers"][0])
	if err != nil {
		t.Fatal(err)
	}
	lim, req := c.Resources.Limits, c.Resources.Requests
	if cpu := lim.Cpu(); cpu.MilliValue() != int64(workers)*1000 {
		t.Errorf("CPU limit %s, --workers %d", cpu, workers)
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		l, q := lim[r], req[r]
		if l.IsZero() || l.Cmp(q) != 0 {
			t.Errorf("%s: request %s, limit %s; want them equal (Guaranteed QoS)", r, q.String(), l.String())
		}
	}
	for _, mt := range m.hpa.Spec.Metrics {
		if mt.Pods != nil && mt.Pods.Metric.Name == "warmcgi_workers_busy" {
			if v := mt.Pods.Target.AverageValue; v == nil || v.MilliValue() >= int64(workers)*1000 {
				t.Errorf("busy-workers target %v: must be below --workers %d, or it never scales", v, workers)
			}
		}
	}
}

// adapterConfig is the part of the Prometheus adapter's configuration
// format (its --config file) that prometheus-adapter/rules.yaml uses,
// written after the adapter's documentation; decoding it strictly catches
// a misspelled key of these.
type adapterConfig struct {
	Rules []adapterRule `json:"rules"`
}

// adapterRule maps Prometheus series to a custom metric.
type adapterRule struct {
	SeriesQuery string `json:"seriesQuery"`
	Resources   struct {
		Overrides map[string]struct {
			Group    string `json:"group,omitempty"`
			Resource string `json:"resource"`
		} `json:"overrides"`
	} `json:"resources"`
	Name struct {
		Matches string `json:"matches"`
		As      string `json:"as"`
	} `json:"name"`
	MetricsQuery string `json:"metricsQuery"`
}

// TestAdapterRulesServeHPAMetrics: each Pods metric of the HPA has an
// adapter rule that names it, selects its series by pod and namespace and
// whose query template expands (the adapter's << >> delimiters).
func TestAdapterRulesServeHPAMetrics(t *testing.T) {
	m := loadManifests(t)
	src, err := os.ReadFile(filepath.Join("prometheus-adapter", "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg adapterConfig
	if err := yaml.UnmarshalStrict(src, &cfg); err != nil {
		t.Fatalf("prometheus-adapter/rules.yaml: %v", err)
	}
	for _, mt := range m.hpa.Spec.Metrics {
		if mt.Type != autoscalingv2.PodsMetricSourceType || mt.Pods == nil {
			t.Errorf("HPA metric %+v: want a Pods metric", mt)
			continue
		}
		name := mt.Pods.Metric.Name
		i := slices.IndexFunc(cfg.Rules, func(r adapterRule) bool {
			return r.Name.As == name
		})
		if i < 0 {
			t.Errorf("no adapter rule serves %s", name)
			continue
		}
		r := cfg.Rules[i]
		if !strings.HasPrefix(r.SeriesQuery, name+"{") || !regexp.MustCompile(r.Name.Matches).MatchString(name) {
			t.Errorf("rule for %s selects %q, matches %q", name, r.SeriesQuery, r.Name.Matches)
		}
		for label, res := range map[string]string{"namespace": "namespace", "pod": "pod"} {
			if got := r.Resources.Overrides[label]; got.Resource != res || got.Group != "" {
				t.Errorf("rule for %s maps label %s to %+v, want resource %s", name, label, got, res)
			}
		}
		tmpl, err := template.New(name).Delims("<<", ">>").Parse(r.MetricsQuery)
		var q bytes.Buffer
		if err == nil {
			err = tmpl.Execute(&q, map[string]string{"Series": name, "LabelMatchers": `namespace="default",pod=~"warmcgi-.*"`, "GroupBy": "pod"})
		}
		if err != nil || !strings.Contains(q.String(), name+`{namespace="default"`) {
			t.Errorf("rule for %s: metricsQuery %q expands to %q (%v)", name, r.MetricsQuery, q.String(), err)
		}
	}
}

// TestPreStopSleepExists: the preStop hook's program is one every Debian
// image has, from an Essential package (the runtime image is Debian slim,
// which keeps those), and it runs.
func TestPreStopSleepExists(t *testing.T) {
	m := loadManifests(t)
	h := m.container(t).Lifecycle.PreStop
	if h == nil || h.Exec == nil || len(h.Exec.Command) != 2 {
		t.Fatalf("preStop %+v: want exec [/bin/sleep SECONDS]", h)
	}
	prog := h.Exec.Command[0]
	if _, err := exec.LookPath("dpkg-query"); err != nil {
		t.Skip("not a Debian system: cannot ask which package ships", prog)
	}
	if err := exec.Command(prog, "0").Run(); err != nil {
		t.Fatalf("%s 0: %v", prog, err)
	}
	// With a merged /usr, dpkg knows the file under one of its two names.
	paths := []string{prog}
	if real, err := filepath.EvalSymlinks(prog); err == nil && real != prog {
		paths = append(paths, real)
	}
	var pkg string
	for _, p := range paths {
		out, err := exec.Command("dpkg-query", "-S", p).Output()
		if err == nil {
			pkg, _, _ = strings.Cut(string(out), ":")
			break
		}
	}
	if pkg == "" {
		t.Fatalf("dpkg knows no package shipping %s", prog)
	}
	out, err := exec.Command("dpkg-query", "-W", "-f", "${Essential}", pkg).Output()
	if err != nil || strings.TrimSpace(string(out)) != "yes" {
		t.Errorf("%s comes from %s, which is not Essential (%q, %v): a slim image may lack it", prog, pkg, out, err)
	}
}
