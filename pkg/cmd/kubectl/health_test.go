package kubectl

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// unreachableKubeconfig points at a port nothing listens on.
func unreachableKubeconfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: not-a-real-token}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestHealthCommandInput(t *testing.T) {
	t.Setenv("CUB_SERVER", "")
	t.Setenv("CUB_TOKEN", "")
	t.Setenv("CUB_CONFIG", t.TempDir())
	kc := unreachableKubeconfig(t)
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"unknown env", []string{"health", "qa"}, cli.ExitUsage, `error: unknown environment "qa"`},
		{"unknown service", []string{"health", "dev", "--services", "trade-svc"}, cli.ExitUsage, `error: unknown service "trade-svc"`},
		{"bad output", []string{"health", "dev", "-o", "xml"}, cli.ExitUsage, `error: invalid output format "xml"`},
		{"bad fail-on", []string{"health", "dev", "--fail-on", "never"}, cli.ExitUsage, `error: invalid fail-on level "never"`},
		{"bad color", []string{"health", "dev", "--color", "rainbow"}, cli.ExitUsage, `error: invalid --color "rainbow"`},
		{"negative threshold", []string{"health", "dev", "--restart-threshold", "-1"}, cli.ExitUsage, "error: --restart-threshold"},
		{"unreachable cluster", []string{"health", "dev", "--kubeconfig", kc, "--timeout", "5s"}, cli.ExitUnavailable, "error: cannot reach the cluster (127.0.0.1:1)"},
		{"unreachable cluster, watching", []string{"health", "dev", "--watch", "--kubeconfig", kc, "--timeout", "5s"}, cli.ExitUnavailable, "error: cannot reach the cluster (127.0.0.1:1)"},
		{"until without watch", []string{"health", "dev", "--until", "healthy"}, cli.ExitUsage, "error: --until needs --watch"},
		{"until what", []string{"health", "dev", "--watch", "--until", "green"}, cli.ExitUsage, `error: invalid --until "green" (valid: healthy)`},
		{"watch and wait", []string{"health", "dev", "--watch", "--wait"}, cli.ExitUsage, "error: --watch and --wait are exclusive"},
		{"watch as json", []string{"health", "dev", "--watch", "-o", "json"}, cli.ExitUsage, "error: --watch shows -o table or -o wide"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.wantCode, errOut)
			}
			if !strings.HasPrefix(errOut, tt.wantStderr) || strings.Count(errOut, "\n") != 1 {
				t.Errorf("stderr %q, want one line starting %q", errOut, tt.wantStderr)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
			if strings.Contains(errOut, "not-a-real-token") {
				t.Error("the token leaked into the error")
			}
		})
	}
}

// TestHealthReadsItsInjectedEnvironment: the project and the report's
// colour come from the options' Getenv, not the process environment.
func TestHealthReadsItsInjectedEnvironment(t *testing.T) {
	t.Setenv(traderx.ProjectEnv, "from-process")
	for _, tc := range []struct {
		name, flag, env, want string
	}{
		{"the injected $TRADERX_PROJECT", "", "acme", "acme"},
		{"the flag first", "mine", "acme", "mine"},
		{"the default when unset", "", "", traderx.DefaultProject},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var read []string
			o := &HealthOptions{Project: tc.flag, Report: NewReportFlags(&cli.ColorFlag{Value: "auto"}), HomeDir: t.TempDir(),
				Getenv: func(k string) string {
					read = append(read, k)
					if k == traderx.ProjectEnv {
						return tc.env
					}
					return ""
				}}
			if err := o.Complete([]string{"dev"}); err != nil {
				t.Fatal(err)
			}
			if err := o.Validate(); err != nil {
				t.Fatal(err)
			}
			if o.Project != tc.want {
				t.Errorf("project %q, want %q", o.Project, tc.want)
			}
			o.Report.options(genericiooptions.NewTestIOStreamsDiscard(), check.GroupByTarget, nil)
			if !slices.Contains(read, "NO_COLOR") {
				t.Errorf("the report's colour did not read the injected environment (read %v)", read)
			}
		})
	}
}
