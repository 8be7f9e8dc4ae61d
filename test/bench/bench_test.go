//go:build bench

// Package bench measures the built binaries as users run them, with their
// default flags, on the real local control plane with the ConfigHub
// stand-in: health on an environment scaled up to 500 Deployments and 2,000
// pods, side by side with the seed's shell approach, and the ConfigHub-side
// operations (apply, set-image, rollback). Every binary talks to the servers
// through a counting proxy, so the request counts are measured, not
// estimated. `make bench` runs it and writes the tables into
// docs/benchmarks.md.
package bench

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/confighub/confighubtest"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/rollout"
	"github.com/finos/traderx-plugins/pkg/traderx"
	"github.com/finos/traderx-plugins/test/cluster"
)

var (
	deployments = flag.Int("deployments", 500, "Deployments in traderx-dev for the health benchmark (TraderX's own plus fillers)")
	pods        = flag.Int("pods", 2000, "running pods in traderx-dev for the health benchmark")
	healthRuns  = flag.Int("health-runs", 10, "runs of kubectl-traderx health at scale")
	shellRuns   = flag.Int("shell-runs", 3, "runs of the seed's shell approach at scale")
	noopRuns    = flag.Int("noop-runs", 3, "runs of the no-op apply")
)

var testCluster *cluster.Cluster

func TestMain(m *testing.M) { cluster.Exit(cluster.Main(m, &testCluster, cluster.Options{Nodes: 10})) }

// world is the sandbox of one benchmark run: the control plane, the
// ConfigHub stand-in with a bridge worker per environment space, a counting
// proxy in front of each, and the environment every binary runs with.
type world struct {
	c            *cluster.Cluster
	hub          *confighubtest.Server
	kube, cub    *counter
	env          []string
	binDir, home string
	// rusage is the launcher that measures each run (./rusage).
	rusage string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	c := cluster.Require(t, testCluster)
	binDir := os.Getenv("TRADERX_BIN_DIR")
	if binDir == "" {
		t.Fatal("TRADERX_BIN_DIR is not set; run through `make bench`")
	}
	w := &world{c: c, binDir: binDir, home: t.TempDir()}
	w.rusage = filepath.Join(w.home, "rusage")
	if out, err := exec.Command("go", "build", "-o", w.rusage, "./rusage").CombinedOutput(); err != nil {
		t.Fatalf("build the rusage launcher: %v\n%s", err, out)
	}

	w.hub = confighubtest.NewServer()
	t.Cleanup(w.hub.Close)
	backend := confighubtest.NewKubeBackend(confighubtest.SingleCluster(c.Config))
	for _, e := range traderx.Environments() {
		wk, err := w.hub.StartWorker(context.Background(), e.Space(traderx.DefaultProject), "worker", nil, backend)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(wk.Stop)
	}
	hubURL, err := url.Parse(w.hub.URL)
	if err != nil {
		t.Fatal(err)
	}
	w.cub = newCounter(hubURL, nil, false)
	t.Cleanup(w.cub.Close)

	// The proxy trusts the API server's CA; the binaries' own token passes
	// through it.
	apiURL, err := url.Parse(c.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := rest.TransportFor(&rest.Config{TLSClientConfig: c.Config.TLSClientConfig})
	if err != nil {
		t.Fatal(err)
	}
	w.kube = newCounter(apiURL, rt, true)
	t.Cleanup(w.kube.Close)
	kc, err := clientcmd.LoadFromFile(c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, cl := range kc.Clusters {
		cl.Server, cl.CertificateAuthority, cl.CertificateAuthorityData = w.kube.URL, "", w.kube.CA()
	}
	kubeconfig := filepath.Join(w.home, "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, kubeconfig); err != nil {
		t.Fatal(err)
	}
	// What cub passes to a plugin, and a shell with the sandbox's env file
	// sourced; a fresh home so no cache or config of this machine counts.
	w.env = append(os.Environ(), "CUB_PLUGIN=1", "CUB_SERVER="+w.cub.URL, "CUB_TOKEN="+w.hub.Token, "CUB_CONTEXT=bench",
		"CUB_CONFIG="+filepath.Join(w.home, ".confighub"), "HOME="+w.home, "XDG_STATE_HOME="+filepath.Join(w.home, "state"),
		"XDG_CACHE_HOME="+filepath.Join(w.home, "cache"), "KUBECONFIG="+kubeconfig, "NO_COLOR=1")
	return w
}

// run runs a command to completion through the rusage launcher, which
// measures its wall time and peak RSS; a failure ends the benchmark with its
// output.
func (w *world) run(t *testing.T, name string, args ...string) sample {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out := filepath.Join(w.home, "rusage.out")
	cmd := exec.CommandContext(ctx, w.rusage, append([]string{out, name}, args...)...)
	cmd.Env, cmd.Stdin = w.env, strings.NewReader("")
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	kube, hub := w.kube.Count(), w.cub.Count()
	err := cmd.Run()
	s := sample{kube: w.kube.Count() - kube, hub: w.cub.Count() - hub}
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, output.String())
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var ns int64
	if _, err := fmt.Sscan(string(data), &ns, &s.rssKB); err != nil {
		t.Fatalf("rusage wrote %q: %v", data, err)
	}
	s.wall = time.Duration(ns)
	t.Logf("%s %s: %s, %d KiB, %d Kubernetes + %d ConfigHub requests", filepath.Base(name), strings.Join(args, " "),
		s.wall.Round(time.Millisecond), s.rssKB, s.kube, s.hub)
	return s
}

// measure runs one of the plugin binaries runs times.
func (w *world) measure(t *testing.T, what string, runs int, bin string, args ...string) result {
	t.Helper()
	r := result{what: what, command: bin + " " + strings.Join(args, " ")}
	for range runs {
		r.samples = append(r.samples, w.run(t, filepath.Join(w.binDir, bin), args...))
	}
	return r
}

// TestCLI is the benchmark: every measured command is a built binary with
// its default flags. The ConfigHub operations run first on a small dev; then
// dev is filled up to -deployments/-pods for health and the shell baseline.
func TestCLI(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	var results []result
	setup := func(args ...string) { t.Helper(); w.run(t, filepath.Join(w.binDir, "cub-traderx"), args...) }

	setup("install", "--envs", "dev")
	results = append(results,
		w.measure(t, "apply a freshly installed dev (24 units)", 1, "cub-traderx", "apply", "dev"),
		w.measure(t, "apply with nothing to apply", *noopRuns, "cub-traderx", "apply", "dev"),
		w.measure(t, "set-image of one service", 1, "cub-traderx", "set-image", "dev", "people-service", "1.1.0"),
		w.measure(t, "rollback of a release that changed one service", 1, "cub-traderx", "rollback", "dev"))

	// A release that changes every service (written through the library, not
	// measured), then the rollback of all of it.
	changeEveryService(t, w)
	setup("apply", "dev")
	results = append(results,
		w.measure(t, "rollback of a release that changed every service", 1, "cub-traderx", "rollback", "dev"),
		w.measure(t, "health of dev (12 Deployments)", *healthRuns, "kubectl-traderx", "health", "dev"))

	start := time.Now()
	fill(t, ctx, w.c, *deployments, *pods)
	t.Logf("filled traderx-dev up to %d Deployments / %d pods in %s", *deployments, *pods, time.Since(start).Round(time.Second))
	health := w.measure(t, fmt.Sprintf("health, %d Deployments / %d pods", *deployments, *pods), *healthRuns, "kubectl-traderx", "health", "dev")
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "seed-health.sh")
	shell := result{what: "the seed's shell approach, same namespace", command: "seed-health.sh traderx-dev <9 services>", noRSS: true}
	for range *shellRuns {
		shell.samples = append(shell.samples, w.run(t, "bash", append([]string{script, "traderx-dev"}, traderx.ServiceNames()...)...))
	}
	results = append(results, health, shell)

	md := markdown(thisMachine(), results, health.what, shell.what)
	t.Logf("results:\n%s", md)
	if doc := os.Getenv("TRADERX_BENCH_DOC"); doc != "" {
		data, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		if data, err = replaceGenerated(data, md); err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		if err := os.WriteFile(doc, data, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote the tables into %s", doc)
	}
}

// changeEveryService writes one change set that gives every service's
// serving Deployment a new image tag, without applying it.
func changeEveryService(t *testing.T, w *world) {
	t.Helper()
	hub, err := confighub.New(w.hub.Credentials())
	if err != nil {
		t.Fatal(err)
	}
	r := &rollout.Rollout{Hub: hub}
	var edits []rollout.Edit
	for _, svc := range traderx.Services() {
		colour := ""
		if svc.BlueGreen {
			colour = manifests.ActiveColour
		}
		edits = append(edits, rollout.Edit{Unit: manifests.DeploymentUnitName(svc, colour), Mutate: func(objs []*unstructured.Unstructured) error {
			cs, _, _ := unstructured.NestedSlice(objs[0].Object, "spec", "template", "spec", "containers")
			cs[0].(map[string]any)["image"] = svc.Image("bench")
			return unstructured.SetNestedSlice(objs[0].Object, cs, "spec", "template", "spec", "containers")
		}})
	}
	env, _ := traderx.LookupEnvironment("dev")
	ctx := context.Background()
	sp, err := r.Space(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.EditUnits(ctx, sp, env, "bench: every service to tag bench", false, edits...); err != nil {
		t.Fatal(err)
	}
}
