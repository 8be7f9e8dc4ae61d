//go:build e2e

// Package e2e runs the built binaries the way users do: through kubectl's
// plugin dispatch, against the real local control plane.
package e2e

import (
	"bytes"
	"context"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/finos/traderx-plugins/pkg/confighub/confighubtest"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/traderx"
	"github.com/finos/traderx-plugins/test/cluster"
)

var testCluster *cluster.Cluster

func TestMain(m *testing.M) {
	cluster.Exit(cluster.Main(m, &testCluster, cluster.Options{
		Users:  []string{"viewer"},
		Groups: map[string][]string{"viewer": {manifests.ViewersGroup}},
	}))
}

type result struct {
	code           int
	stdout, stderr string
}

// kubectl runs the real kubectl with bin/ first on PATH, so `kubectl traderx`
// resolves to our kubectl-traderx the way it does for users.
func kubectl(t *testing.T, stdin []byte, args ...string) result {
	t.Helper()
	return kubectlWith(t, stdin, nil, args...)
}

// kubectlWith is kubectl with extra environment variables (e.g. ConfigHub
// credentials, as an operator's shell has them).
func kubectlWith(t *testing.T, stdin []byte, env []string, args ...string) result {
	t.Helper()
	binDir := os.Getenv("TRADERX_BIN_DIR")
	if binDir == "" {
		t.Fatal("TRADERX_BIN_DIR is not set; run through `make e2e`")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", args...)
	cmd.Env = append(os.Environ(), "PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"),
		"KUBECONFIG="+testCluster.Kubeconfig, "NO_COLOR=1")
	cmd.Env = append(cmd.Env, env...)
	var out, errOut bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(stdin), &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("kubectl %v: %v", args, err)
	}
	return result{code, out.String(), errOut.String()}
}

func TestPluginDispatchAndDeployDev(t *testing.T) {
	cluster.Require(t, testCluster)
	if _, err := os.Stat(filepath.Join(os.Getenv("TRADERX_BIN_DIR"), "kubectl-traderx")); err != nil {
		t.Fatalf("plugin binary not built: %v", err)
	}
	if r := kubectl(t, nil, "plugin", "list"); !strings.Contains(r.stdout, "kubectl-traderx") {
		t.Fatalf("kubectl plugin list does not show kubectl-traderx:\n%s%s", r.stdout, r.stderr)
	}
	if r := kubectl(t, nil, "traderx", "version"); r.code != 0 || !strings.HasPrefix(r.stdout, "kubectl-traderx ") {
		t.Fatalf("kubectl traderx version: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := kubectl(t, nil, "traderx", "manifests", "qa")
	if r.code != 2 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, `unknown environment "qa"`) {
		t.Fatalf("unknown env through kubectl: exit %d, stderr %q", r.code, r.stderr)
	}
	// staging: the cub e2e test owns dev in this shared cluster.
	m := kubectl(t, nil, "traderx", "manifests", "staging")
	if m.code != 0 {
		t.Fatalf("manifests staging: exit %d: %s", m.code, m.stderr)
	}
	if a := kubectl(t, []byte(m.stdout), "apply", "--server-side", "--field-manager=traderx-e2e", "-f", "-"); a.code != 0 {
		t.Fatalf("apply: exit %d: %s", a.code, a.stderr)
	}
	if err := cluster.WaitDeploymentsAvailable(context.Background(), testCluster.Client, "traderx-staging", 2*time.Minute); err != nil {
		t.Fatal(err)
	}

	h := kubectl(t, nil, "traderx", "health", "staging", "--wait", "--timeout", "60s")
	if h.code != 0 || !strings.Contains(h.stdout, "Status: HEALTHY") {
		t.Fatalf("kubectl traderx health staging: exit %d\n%s\n%s", h.code, h.stdout, h.stderr)
	}
	j := kubectl(t, nil, "traderx", "health", "staging", "-o", "junit")
	var suites struct {
		Suites []struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal([]byte(j.stdout), &suites); err != nil || j.code != 0 || len(suites.Suites) == 0 {
		t.Fatalf("health -o junit: exit %d, %v\n%s", j.code, err, j.stdout)
	}
	for _, s := range suites.Suites {
		if s.Failures != 0 {
			t.Errorf("junit reports %d failures on a healthy environment", s.Failures)
		}
	}

	// Break the database: health must exit 1 and name the dependents.
	if d := kubectl(t, nil, "-n", "traderx-staging", "scale", "deployment/database", "--replicas=0"); d.code != 0 {
		t.Fatalf("scale: %s", d.stderr)
	}
	u := kubectl(t, nil, "traderx", "health", "staging", "--services", "database,account-service")
	if u.code != 1 || !strings.Contains(u.stdout, "Status: UNHEALTHY") || !strings.Contains(u.stdout, "dependency database is down") {
		t.Fatalf("health after scaling the database to 0: exit %d\n%s%s", u.code, u.stdout, u.stderr)
	}
}

// health and validate need nothing but the rendered traderx-viewer role; with
// one permission removed they stop with "forbidden: needs …" and exit 3; the
// role admits no write.
func TestViewerRoleThroughKubectl(t *testing.T) {
	cluster.Require(t, testCluster)
	viewer := testCluster.KubeconfigFor("viewer")
	m := kubectl(t, nil, "traderx", "manifests", "prod")
	if a := kubectl(t, []byte(m.stdout), "apply", "--server-side", "--field-manager=traderx-e2e", "-f", "-"); a.code != 0 {
		t.Fatalf("apply prod: %s", a.stderr)
	}
	rbac := kubectl(t, nil, "traderx", "manifests", "prod", "--rbac")
	if a := kubectl(t, []byte(rbac.stdout), "apply", "--server-side", "--field-manager=traderx-e2e", "-f", "-"); a.code != 0 {
		t.Fatalf("apply rbac: %s", a.stderr)
	}
	if a := kubectl(t, nil, "-n", "traderx-prod", "create", "secret", "generic", "traderx-database",
		"--from-literal=username=sa", "--from-literal=password=e2e-only"); a.code != 0 {
		t.Fatalf("create secret: %s", a.stderr)
	}
	if err := cluster.WaitDeploymentsAvailable(context.Background(), testCluster.Client, "traderx-prod", 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	if h := kubectl(t, nil, "traderx", "health", "prod", "--kubeconfig", viewer, "--wait", "--timeout", "60s"); h.code != 0 {
		t.Fatalf("health as traderx-viewer: exit %d\n%s%s", h.code, h.stdout, h.stderr)
	}
	if v := kubectl(t, nil, "traderx", "validate", "prod", "--kubeconfig", viewer, "-o", "wide"); v.code != 0 || !strings.Contains(v.stdout, "secret/traderx-database") {
		t.Fatalf("validate as traderx-viewer: exit %d\n%s%s", v.code, v.stdout, v.stderr)
	}
	if w := kubectl(t, nil, "--kubeconfig", viewer, "-n", "traderx-prod", "create", "configmap", "x"); w.code == 0 || !strings.Contains(w.stderr, "forbidden") {
		t.Fatalf("a write as traderx-viewer was not denied: exit %d %s", w.code, w.stderr)
	}
	// Take list on pods away: both commands say exactly what is missing.
	patch := `[{"op":"replace","path":"/rules/1","value":{"apiGroups":[""],"resources":["services"],"verbs":["list"]}}]`
	if p := kubectl(t, nil, "patch", "clusterrole", manifests.ViewerRole, "--type=json", "-p", patch); p.code != 0 {
		t.Fatalf("patch role: %s", p.stderr)
	}
	t.Cleanup(func() {
		kubectl(t, []byte(rbac.stdout), "apply", "--server-side", "--force-conflicts", "--field-manager=traderx-e2e", "-f", "-")
	})
	for _, cmd := range [][]string{{"traderx", "health", "prod"}, {"traderx", "validate", "prod"}} {
		var r result
		for range 50 { // RBAC changes reach the authorizer within moments
			if r = kubectl(t, nil, append(cmd, "--kubeconfig", viewer)...); r.code == 3 {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if r.code != 3 || !strings.Contains(r.stderr, "forbidden: needs list on pods in namespace traderx-prod") {
			t.Errorf("%v without list pods: exit %d, stderr %q", cmd, r.code, r.stderr)
		}
	}
}

// hub is the ConfigHub stand-in of a test with its bridge workers, one per
// environment space (by space slug), applying to the test cluster.
type hub struct {
	*confighubtest.Server
	backend confighubtest.Backend
	workers map[string]*confighubtest.Worker
}

// workerOptions shorten the worker's wait before it checks readiness again
// (30 s, growing to 5 min, on the real worker), so a unit that stays
// Progressing completes within a test's timeout once its cause is gone.
var workerOptions = []confighubtest.WorkerOption{confighubtest.WithRetryBackoff(time.Second, 5*time.Second)}

// newHub starts the ConfigHub stand-in with a connected bridge worker in every
// environment space of project, applying to the test cluster — what an
// operator sets up (cub space create, cub worker create/run) before install.
func newHub(t *testing.T, project string) *hub {
	t.Helper()
	h := &hub{Server: confighubtest.NewServer(), workers: map[string]*confighubtest.Worker{},
		backend: confighubtest.NewKubeBackend(confighubtest.SingleCluster(testCluster.Config))}
	t.Cleanup(h.Close)
	t.Cleanup(func() {
		for _, w := range h.workers {
			w.Stop()
		}
	})
	for _, e := range traderx.Environments() {
		h.startWorker(t, e.Space(project))
	}
	return h
}

// startWorker starts (or, after it stopped, starts again) the worker of a
// space, as `cub worker run --space <space> worker` does: the same worker,
// advertising the same target.
func (h *hub) startWorker(t *testing.T, space string) {
	t.Helper()
	if old := h.workers[space]; old != nil {
		old.Stop()
	}
	w, err := h.StartWorker(context.Background(), space, "worker", nil, h.backend, workerOptions...)
	if err != nil {
		t.Fatal(err)
	}
	h.workers[space] = w
}
