package kubectl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/finos/traderx-plugins/pkg/cli"
)

// twoContextKubeconfig has contexts dev-ctx (current) and prod-ctx, on
// servers nothing listens on.
func twoContextKubeconfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := `apiVersion: v1
kind: Config
clusters:
- {name: dev, cluster: {server: "https://127.0.0.1:1"}}
- {name: prod, cluster: {server: "https://127.0.0.1:2"}}
users: [{name: u, user: {token: not-a-real-token}}]
contexts:
- {name: dev-ctx, context: {cluster: dev, user: u}}
- {name: prod-ctx, context: {cluster: prod, user: u}}
current-context: dev-ctx
`
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConfigSetContextAndView(t *testing.T) {
	noConfigHub(t)
	xdg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", xdg)
	kc := twoContextKubeconfig(t)
	file := filepath.Join(xdg, "traderx", "clusters.yaml")

	steps := []struct {
		name       string
		args       []string
		wantCode   int
		wantOut    string
		wantStderr string
	}{
		{name: "unknown context refused", args: []string{"config", "set-context", "prod", "nope", "--kubeconfig", kc},
			wantCode: cli.ExitUsage, wantStderr: `error: environment prod: --context names kube context "nope", which the kubeconfig does not have (it has: dev-ctx, prod-ctx)`},
		{name: "unknown environment refused", args: []string{"config", "set-context", "qa", "prod-ctx", "--kubeconfig", kc},
			wantCode: cli.ExitUsage, wantStderr: `error: unknown environment "qa"`},
		{name: "set prod", args: []string{"config", "set-context", "prod", "prod-ctx", "--kubeconfig", kc},
			wantOut: "prod is read on kube context prod-ctx (" + file + ")\n"},
		{name: "view", args: []string{"config", "view", "--kubeconfig", kc},
			wantOut: "ENV      CONTEXT   SERVER               FROM\n" +
				"dev      dev-ctx   https://127.0.0.1:1  current context\n" +
				"staging  dev-ctx   https://127.0.0.1:1  current context\n" +
				"prod     prod-ctx  https://127.0.0.1:2  config file\n" +
				"Mapping file: " + file + "\n"},
		{name: "a broken mapping is shown, then exit 2", args: []string{"config", "view", "--kubeconfig", kc, "--context", "gone"},
			wantCode: cli.ExitUsage, wantOut: "dev      -        -       error\n",
			wantStderr: "error: no usable cluster for dev, staging, prod (see the rows above; fix the mapping with `kubectl traderx config set-context dev <context>`)"},
		{name: "the flag wins", args: []string{"config", "view", "--kubeconfig", kc, "--context", "dev-ctx", "-o", "json"},
			wantOut: `"context": "dev-ctx",
      "server": "https://127.0.0.1:1",
      "source": "flag"
    }
  ]`},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			code, out, errOut := run(s.args...)
			if code != s.wantCode {
				t.Fatalf("exit %d, want %d (stderr %q)", code, s.wantCode, errOut)
			}
			if s.wantStderr != "" && !strings.HasPrefix(errOut, s.wantStderr) {
				t.Errorf("stderr %q, want it to start %q", errOut, s.wantStderr)
			}
			if s.wantOut != "" && !strings.Contains(out, s.wantOut) {
				t.Errorf("stdout\n%s\nwant it to contain\n%s", out, s.wantOut)
			}
		})
	}
}
