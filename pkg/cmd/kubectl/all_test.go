package kubectl

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/finos/traderx-plugins/pkg/cli"
)

// emptyCluster is an API server where nothing exists: every GET is a 404
// Status. It records the paths it was asked for.
type emptyCluster struct {
	*httptest.Server
	mu    sync.Mutex
	paths []string
}

func newEmptyCluster(t *testing.T) *emptyCluster {
	c := &emptyCluster{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.paths = append(c.paths, r.URL.Path)
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`)
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *emptyCluster) seen() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.paths...)
}

// closedPort is an address nothing listens on: a cluster that is down.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// clustersKubeconfig writes a kubeconfig with one context per name → server;
// the current context is "current".
func clustersKubeconfig(t *testing.T, current string, servers map[string]string) string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Config\nusers: [{name: u, user: {token: not-a-real-token}}]\ncurrent-context: " + current + "\nclusters:\n")
	for name, server := range servers {
		fmt.Fprintf(&b, "- {name: %s, cluster: {server: %q}}\n", name, server)
	}
	b.WriteString("contexts:\n")
	for name := range servers {
		fmt.Fprintf(&b, "- {name: %s, context: {cluster: %s, user: u}}\n", name, name)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// mapping writes the user's mapping file under a fresh $XDG_CONFIG_HOME.
func mapping(t *testing.T, contexts string) {
	xdg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", xdg)
	if err := os.MkdirAll(filepath.Join(xdg, "traderx"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(xdg, "traderx", "clusters.yaml"), []byte(contexts), 0o600); err != nil {
		t.Fatal(err)
	}
}

// prod is mapped to its own cluster: a health check of prod reads only it,
// even with the current context on dev's, and says which cluster it judged.
func TestHealthReadsTheMappedCluster(t *testing.T) {
	noConfigHub(t)
	dev, prod := newEmptyCluster(t), newEmptyCluster(t)
	kc := clustersKubeconfig(t, "dev-ctx", map[string]string{"dev-ctx": dev.URL, "prod-ctx": prod.URL})
	mapping(t, "contexts:\n  prod: prod-ctx\n")

	code, out, errOut := run("health", "prod", "--kubeconfig", kc, "-o", "json")
	if code != cli.ExitFailed {
		t.Fatalf("exit %d, want 1 (the namespace is missing); stderr %q", code, errOut)
	}
	var got struct {
		Namespace string
		Cluster   struct{ Context, Server, Source string }
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if got.Cluster.Context != "prod-ctx" || got.Cluster.Server != prod.URL || got.Cluster.Source != "config file" {
		t.Errorf("cluster %+v, want prod-ctx at %s from the config file", got.Cluster, prod.URL)
	}
	if p := dev.seen(); len(p) != 0 {
		t.Errorf("health prod read the dev cluster: %v", p)
	}
	if p := prod.seen(); len(p) == 0 || p[0] != "/api/v1/namespaces/traderx-prod" {
		t.Errorf("prod's cluster was asked %v, want the namespace traderx-prod first", p)
	}
}

// A mapping to a context the kubeconfig lacks is exit 2, and nothing is read
// on the current context instead.
func TestHealthRefusesAnUnknownMappedContext(t *testing.T) {
	noConfigHub(t)
	dev := newEmptyCluster(t)
	kc := clustersKubeconfig(t, "dev-ctx", map[string]string{"dev-ctx": dev.URL})
	mapping(t, "contexts:\n  prod: prod-ctx\n")
	code, out, errOut := run("health", "prod", "--kubeconfig", kc)
	if code != cli.ExitUsage || out != "" || !strings.Contains(errOut, `names kube context "prod-ctx", which the kubeconfig does not have (it has: dev-ctx)`) {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 naming the context", code, out, errOut)
	}
	if p := dev.seen(); len(p) != 0 {
		t.Errorf("fell back to the current context: %v", p)
	}
}

// --all: every environment on its own cluster; prod's is down, so its row
// says so, the others are still judged, and the exit code is 3.
func TestAllWithOneClusterDown(t *testing.T) {
	noConfigHub(t)
	dev := newEmptyCluster(t)
	down := closedPort(t)
	kc := clustersKubeconfig(t, "dev-ctx", map[string]string{"dev-ctx": dev.URL, "prod-ctx": down})
	mapping(t, "contexts:\n  prod: prod-ctx\n")
	host := strings.TrimPrefix(down, "http://")

	for _, cmd := range []string{"health", "validate"} {
		t.Run(cmd, func(t *testing.T) {
			code, out, errOut := run(cmd, "--all", "--kubeconfig", kc, "--timeout", "5s")
			if code != cli.ExitUnavailable {
				t.Errorf("exit %d, want 3; stderr %q", code, errOut)
			}
			failed := "UNHEALTHY"
			if cmd == "validate" {
				failed = "FAILED"
			}
			lines := strings.Split(out, "\n")
			want := []string{
				"ENV      CLUSTER   VERDICT",
				"dev      dev-ctx   " + failed,
				"staging  dev-ctx   " + failed,
				"prod     prod-ctx  UNREACHABLE  -",
				"  ✗ cannot reach the cluster (" + host + ")",
			}
			if len(lines) < len(want) {
				t.Fatalf("output\n%s", out)
			}
			for i, w := range want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("line %d %q, want it to start %q\n%s", i, lines[i], w, out)
				}
			}
		})
	}

	code, out, _ := run("health", "--all", "--kubeconfig", kc, "--timeout", "5s", "-o", "json")
	var got AllVerdicts
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != cli.ExitUnavailable {
		t.Fatalf("exit %d, %v:\n%s", code, err, out)
	}
	if got.ExitCode != 3 || len(got.Environments) != 3 || got.Environments[2].Cluster.Server != down ||
		got.Environments[2].ExitCode != 3 || got.Environments[0].Verdict != "UNHEALTHY" || len(got.Environments[0].Failing) == 0 {
		t.Errorf("json %+v", got)
	}
}

func TestAllInput(t *testing.T) {
	noConfigHub(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"health"}, "error: health needs an environment (dev, staging, prod) or --all"},
		{[]string{"health", "dev", "--all"}, "error: give an environment or --all, not both"},
		{[]string{"health", "--all", "--watch"}, "error: --all judges each environment once"},
		{[]string{"health", "--all", "-n", "x"}, "error: --all reads each environment's own namespace"},
		{[]string{"health", "--all", "-o", "wide"}, `error: --all shows -o table, json or yaml, not "wide"`},
		{[]string{"validate"}, "error: validate needs an environment (dev, staging, prod) or --all"},
		{[]string{"validate", "--all", "--local"}, "error: --all validates live environments"},
		{[]string{"validate", "--all", "-o", "junit"}, `error: --all shows -o table, json or yaml, not "junit"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, out, errOut := run(tt.args...)
			if code != cli.ExitUsage || out != "" || !strings.HasPrefix(errOut, tt.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, out, errOut, tt.want)
			}
		})
	}
}
