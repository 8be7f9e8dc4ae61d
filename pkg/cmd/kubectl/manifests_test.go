package kubectl

import (
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/manifests"
)

func run(args ...string) (code int, stdout, stderr string) {
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	code = cli.Execute(NewRootCommand(streams), args, errOut)
	return code, out.String(), errOut.String()
}

func TestManifestsCommand(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
		check      func(t *testing.T, stdout string)
	}{
		{"dev yaml", []string{"manifests", "dev"}, 0, "", func(t *testing.T, out string) {
			objs, err := manifests.Decode([]byte(out))
			if err != nil || len(objs) < 40 {
				t.Errorf("decoded %d objects, %v", len(objs), err)
			}
		}},
		{"prod json", []string{"manifests", "prod", "-o", "json"}, 0, "", func(t *testing.T, out string) {
			if !strings.HasPrefix(out, "{") || !strings.Contains(out, `"kind": "List"`) {
				t.Errorf("not a JSON List: %.80s", out)
			}
		}},
		{"monitoring", []string{"manifests", "prod", "--monitoring"}, 0, "", func(t *testing.T, out string) {
			objs, err := manifests.Decode([]byte(out))
			if err != nil || len(objs) == 0 {
				t.Fatalf("decoded %d objects, %v", len(objs), err)
			}
			for _, o := range objs {
				if o.GetNamespace() != "traderx-prod" || (o.GetKind() != "ConfigMap" && o.GetKind() != "PrometheusRule") {
					t.Errorf("unexpected %s %s/%s", o.GetKind(), o.GetNamespace(), o.GetName())
				}
			}
		}},
		{"rbac", []string{"manifests", "staging", "--rbac"}, 0, "", func(t *testing.T, out string) {
			objs, err := manifests.Decode([]byte(out))
			if err != nil || len(objs) != 6 {
				t.Fatalf("decoded %d objects, %v", len(objs), err)
			}
			if !strings.Contains(out, "traderx-viewer") || !strings.Contains(out, "resourceNames:\n  - traderx-database\n  resources:\n  - secrets") {
				t.Errorf("rbac output (secrets only by name):\n%s", out)
			}
		}},
		{"rbac and monitoring", []string{"manifests", "dev", "--rbac", "--monitoring"}, cli.ExitUsage, "error: --monitoring and --rbac render different things", nil},
		{"unknown env", []string{"manifests", "qa"}, cli.ExitUsage, `error: unknown environment "qa" (valid: dev, staging, prod)`, nil},
		{"missing env", []string{"manifests"}, cli.ExitUsage, "error: accepts 1 arg(s), received 0", nil},
		{"bad output", []string{"manifests", "dev", "-o", "xml"}, cli.ExitUsage, `error: invalid output format "xml" (valid: yaml, json)`, nil},
		{"bad flag", []string{"manifests", "dev", "--bogus"}, cli.ExitUsage, "error: unknown flag: --bogus", nil},
		{"unknown command", []string{"helth", "dev"}, cli.ExitUsage, `error: unknown command "helth"`, nil},
		{"version json", []string{"version", "-o", "json"}, 0, "", func(t *testing.T, out string) {
			if !strings.Contains(out, `"goVersion"`) {
				t.Errorf("version json: %s", out)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.wantCode, errOut)
			}
			if tt.wantStderr != "" {
				if !strings.HasPrefix(errOut, tt.wantStderr) || strings.Count(errOut, "\n") != 1 {
					t.Errorf("stderr %q, want one line starting %q", errOut, tt.wantStderr)
				}
				if out != "" {
					t.Errorf("bad input wrote to stdout: %q", out)
				}
			}
			if tt.check != nil {
				tt.check(t, out)
			}
		})
	}
}
