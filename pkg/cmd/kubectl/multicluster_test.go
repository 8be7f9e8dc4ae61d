package kubectl

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/envcluster"
	testcluster "github.com/finos/traderx-plugins/test/cluster"
)

// Two real control planes: dev and staging on "nonprod", prod on "prod".
// The nonprod cluster holds a traderx-prod namespace of its own, which a
// health check of prod must never see; then, with the prod cluster down,
// --all still judges the others and exits 3.
func TestEachEnvironmentOnItsOwnControlPlane(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two local control planes")
	}
	noConfigHub(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := t.TempDir()
	clusters := map[string]*testcluster.Cluster{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, name := range []string{"nonprod", "prod"} {
		wg.Go(func() {
			c, err := testcluster.Start(ctx, testcluster.Options{Dir: filepath.Join(dir, name), Nodes: 1})
			if err != nil {
				t.Errorf("start %s: %v", name, err)
				return
			}
			mu.Lock()
			clusters[name] = c
			mu.Unlock()
		})
	}
	wg.Wait()
	for _, c := range clusters {
		t.Cleanup(c.Stop)
	}
	if t.Failed() {
		t.FailNow()
	}
	kc := filepath.Join(dir, "kubeconfig")
	if err := testcluster.WriteKubeconfig(kc, "nonprod", clusters); err != nil {
		t.Fatal(err)
	}
	xdg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", xdg)
	m := &envcluster.File{Contexts: map[string]string{"dev": "nonprod", "staging": "nonprod", "prod": "prod"}}
	if err := m.Save(envcluster.DefaultPath(func(string) string { return xdg }, "")); err != nil {
		t.Fatal(err)
	}
	// The decoy: a traderx-prod namespace on the nonprod cluster.
	if _, err := clusters["nonprod"].Client.CoreV1().Namespaces().Create(ctx,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "traderx-prod"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	namespaceSeen := func(t *testing.T, args ...string) (bool, *check.Cluster) {
		t.Helper()
		code, out, errOut := run(append([]string{"health", "prod", "--kubeconfig", kc, "-o", "json", "--services", "database"}, args...)...)
		if code != cli.ExitOK && code != cli.ExitFailed {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var r check.Report
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		for _, c := range r.Checks {
			if c.Suite == "namespace" {
				return c.Status == check.StatusPass, r.Cluster
			}
		}
		t.Fatalf("no namespace check in %s", out)
		return false, nil
	}
	// The decoy is visible when the wrong cluster is read on purpose: the
	// check below can fail.
	if seen, where := namespaceSeen(t, "--context", "nonprod"); !seen || where.Context != "nonprod" || where.Source != "flag" {
		t.Fatalf("with --context nonprod: namespace seen %v on %+v; the decoy should be there", seen, where)
	}
	if seen, where := namespaceSeen(t); seen || where.Context != "prod" || where.Source != "config file" ||
		where.Server != clusters["prod"].Config.Host {
		t.Errorf("health prod: namespace seen %v on %+v; want prod's own cluster (%s), where traderx-prod does not exist",
			seen, where, clusters["prod"].Config.Host)
	}

	clusters["prod"].Stop()
	code, out, errOut := run("health", "--all", "--kubeconfig", kc, "--timeout", "20s")
	if code != cli.ExitUnavailable {
		t.Errorf("--all with prod's cluster down: exit %d, want 3; stderr %q", code, errOut)
	}
	lines := strings.Split(out, "\n")
	want := []string{"ENV      CLUSTER  VERDICT", "dev      nonprod  UNHEALTHY", "staging  nonprod  UNHEALTHY", "prod     prod     UNREACHABLE"}
	for i, w := range want {
		if i >= len(lines) || !strings.HasPrefix(lines[i], w) {
			t.Errorf("--all output, line %d: want it to start %q:\n%s", i, w, out)
		}
	}
}
