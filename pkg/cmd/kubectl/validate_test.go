package kubectl

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/confighub/confighubtest"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/traderx"
	"github.com/finos/traderx-plugins/pkg/validate"
)

// runStdin runs the root command with stdin.
func runStdin(stdin string, args ...string) (code int, stdout, stderr string) {
	streams, in, out, errOut := genericiooptions.NewTestIOStreams()
	in.WriteString(stdin)
	code = cli.Execute(NewRootCommand(streams), args, errOut)
	return code, out.String(), errOut.String()
}

// noConfigHub keeps the developer's cub login out of a test.
func noConfigHub(t *testing.T) {
	t.Setenv("CUB_SERVER", "")
	t.Setenv("CUB_TOKEN", "")
	t.Setenv("CUB_CONFIG", t.TempDir())
}

func renderedYAML(t *testing.T, envName string, mutate func(string) string) string {
	t.Helper()
	env, err := traderx.LookupEnvironment(envName)
	if err != nil {
		t.Fatal(err)
	}
	units, err := manifests.Render(env)
	if err != nil {
		t.Fatal(err)
	}
	b, err := manifests.EncodeYAML(manifests.Objects(units))
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		return mutate(string(b))
	}
	return string(b)
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// closedKubeconfig points at a port nothing listens on.
func closedKubeconfig(t *testing.T) string {
	return writeFile(t, t.TempDir(), "kubeconfig", `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: not-a-real-token}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`)
}

func TestValidateCommand(t *testing.T) {
	noConfigHub(t)
	dir := t.TempDir()
	devFile := writeFile(t, dir, "dev.yaml", renderedYAML(t, "dev", nil))
	split := t.TempDir()
	all := renderedYAML(t, "dev", nil)
	docs := strings.Split(all, "---\n")
	writeFile(t, split, "a.yaml", strings.Join(docs[:len(docs)/2], "---\n"))
	writeFile(t, split, "b.yml", strings.Join(docs[len(docs)/2:], "---\n"))
	writeFile(t, split, "notes.txt", "not a manifest")
	noPeople := writeFile(t, dir, "no-people.yaml", renderedYAML(t, "dev", func(s string) string {
		return strings.Replace(s, "        - name: PEOPLE_SERVICE_HOST\n          value: people-service\n", "", 1)
	}))
	malformed := writeFile(t, dir, "bad.yaml", "apiVersion: v1\nkind: Service\nmetadata: [\n")
	kc := closedKubeconfig(t)

	tests := []struct {
		name       string
		stdin      string
		args       []string
		wantCode   int
		wantStdout []string // substrings
		wantStderr string   // one line starting with this
	}{
		{"local needs no cluster", "", []string{"validate", "dev", "--local", "--kubeconfig", "/nonexistent"}, 0,
			[]string{"Validation of dev (namespace traderx-dev)", "SUITE  ", "12-network-policies", "offline (--local): pod state exists only in a live cluster",
				"Status: PASSED"}, ""},
		{"wide shows every validation", "", []string{"validate", "dev", "--local", "-o", "wide"}, 0,
			[]string{"STATUS  CHECK", "✓ PASS", "Total validations:", "Success rate: 100.0%", "Status: PASSED"}, ""},
		{"local prod warns about singletons", "", []string{"validate", "prod", "--local", "--kubeconfig", kc}, 0,
			[]string{"15-availability      14      2         0       0        ! singleton +1", "! service/database singleton: runs exactly 1 replica", "Status: PASSED WITH WARNINGS"}, ""},
		{"local prod fails on warnings when asked", "", []string{"validate", "prod", "--local", "--fail-on", "warn"}, 1, nil, ""},
		{"file", "", []string{"validate", "dev", "-f", devFile, "--kubeconfig", kc}, 0,
			[]string{"offline (-f)", "Status: PASSED"}, ""},
		{"directory", "", []string{"validate", "dev", "-f", split, "--kubeconfig", kc}, 0, []string{"Status: PASSED"}, ""},
		{"stdin", all, []string{"validate", "dev", "-f", "-", "--kubeconfig", kc}, 0, []string{"Status: PASSED"}, ""},
		{"file with a defect", "", []string{"validate", "dev", "-f", noPeople}, 1,
			[]string{"✗ PEOPLE_SERVICE_HOST", "PEOPLE_SERVICE_HOST is not set", "→ set PEOPLE_SERVICE_HOST=people-service", "Status: FAILED"}, ""},
		{"file of another environment", "", []string{"validate", "prod", "-f", devFile}, 1,
			[]string{"the input defines namespace traderx-dev, not traderx-prod"}, ""},
		{"missing file", "", []string{"validate", "dev", "-f", filepath.Join(dir, "nope.yaml")}, cli.ExitUsage, nil,
			"error: read -f " + filepath.Join(dir, "nope.yaml") + ": no such file or directory"},
		{"malformed file", "", []string{"validate", "dev", "-f", malformed}, cli.ExitUsage, nil, "error: " + malformed + ": document 1:"},
		{"malformed stdin", "a: [\n", []string{"validate", "dev", "-f", "-"}, cli.ExitUsage, nil, "error: stdin: document 1:"},
		{"empty stdin", "", []string{"validate", "dev", "-f", "-"}, cli.ExitUsage, nil, "error: stdin: no Kubernetes objects"},
		{"wrong type in an object", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicas: two}\n",
			[]string{"validate", "dev", "-f", "-"}, cli.ExitUsage, nil, "error: object 1 (Deployment x):"},
		{"directory without manifests", "", []string{"validate", "dev", "-f", t.TempDir()}, cli.ExitUsage, nil, "error: -f "},
		{"unknown env", "", []string{"validate", "qa", "--local"}, cli.ExitUsage, nil, `error: unknown environment "qa" (valid: dev, staging, prod)`},
		{"local and file", "", []string{"validate", "dev", "--local", "-f", devFile}, cli.ExitUsage, nil, "error: --local and -f are exclusive"},
		{"bad output", "", []string{"validate", "dev", "--local", "-o", "xml"}, cli.ExitUsage, nil, `error: invalid output format "xml"`},
		{"bad project", "", []string{"validate", "dev", "--project", "Bad_Name"}, cli.ExitUsage, nil, `error: invalid project "Bad_Name"`},
		{"unreachable cluster", "", []string{"validate", "dev", "--kubeconfig", kc, "--timeout", "5s"}, cli.ExitUnavailable, nil,
			"error: cannot reach the cluster (127.0.0.1:1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runStdin(tt.stdin, append(tt.args, "--color", "never")...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.wantCode, errOut)
			}
			for _, s := range tt.wantStdout {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
			if tt.wantStderr != "" {
				if !strings.HasPrefix(errOut, tt.wantStderr) || strings.Count(errOut, "\n") != 1 {
					t.Errorf("stderr %q, want one line starting %q", errOut, tt.wantStderr)
				}
				if out != "" {
					t.Errorf("bad input wrote to stdout: %.200q", out)
				}
			} else if errOut != "" {
				t.Errorf("stderr %q, want nothing", errOut)
			}
			if strings.Contains(errOut+out, "not-a-real-token") {
				t.Error("the token leaked")
			}
		})
	}
}

func TestValidateOutputFormats(t *testing.T) {
	noConfigHub(t)
	t.Run("junit", func(t *testing.T) {
		code, out, errOut := runStdin("", "validate", "prod", "--local", "-o", "junit")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var doc struct {
			XMLName  xml.Name `xml:"testsuites"`
			Name     string   `xml:"name,attr"`
			Tests    int      `xml:"tests,attr"`
			Failures int      `xml:"failures,attr"`
			Suites   []struct {
				Name  string `xml:"name,attr"`
				Cases []struct {
					Name string `xml:"name,attr"`
				} `xml:"testcase"`
			} `xml:"testsuite"`
		}
		if err := xml.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("not JUnit XML: %v\n%.300s", err, out)
		}
		var suites []string
		cases := 0
		for _, s := range doc.Suites {
			suites = append(suites, s.Name)
			cases += len(s.Cases)
		}
		if strings.Join(suites, ",") != strings.Join(validate.Suites(), ",") {
			t.Errorf("suites %v, want %v", suites, validate.Suites())
		}
		if doc.Tests == 0 || doc.Tests != cases || doc.Failures != 0 {
			t.Errorf("tests=%d cases=%d failures=%d", doc.Tests, cases, doc.Failures)
		}
	})
	t.Run("json with -n", func(t *testing.T) {
		code, out, errOut := runStdin("", "validate", "dev", "--local", "-n", "my-dev", "-o", "json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var r check.Report
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		if r.Kind != check.KindValidate || r.Environment != "dev" || r.Namespace != "my-dev" || r.Verdict != check.VerdictHealthy {
			t.Errorf("report %s %s %s %s", r.Kind, r.Environment, r.Namespace, r.Verdict)
		}
	})
	t.Run("colour", func(t *testing.T) {
		_, out, _ := runStdin("", "validate", "dev", "--local", "--color", "always")
		if !strings.Contains(out, "\x1b[32m") {
			t.Error("--color always wrote no colour")
		}
	})
}

// The ConfigHub source of a live run, without cobra: no credentials SKIP
// visibly; credentials reach ConfigHub; an unreachable ConfigHub is exit 3.
func TestValidateConfigHubState(t *testing.T) {
	env := func(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }
	dev, _ := traderx.LookupEnvironment("dev")
	ctx := context.Background()

	o := &ValidateOptions{Getenv: env(nil), HomeDir: t.TempDir(), env: dev, project: "traderx"}
	st, err := o.ConfigHubState(ctx)
	if err != nil || st.Skip != validate.NoCredentialsReason {
		t.Errorf("no credentials: %+v, %v", st, err)
	}

	srv := confighubtest.NewServer()
	defer srv.Close()
	creds := map[string]string{"CUB_SERVER": srv.URL, "CUB_TOKEN": srv.Token}
	o = &ValidateOptions{Getenv: env(creds), HomeDir: t.TempDir(), env: dev, project: "acme"}
	st, err = o.ConfigHubState(ctx)
	if err != nil || st.Skip != "" || st.Space != "acme-dev" || st.SpaceFound {
		t.Errorf("empty ConfigHub: %+v, %v", st, err)
	}

	srv.Close()
	if _, err := o.ConfigHubState(ctx); cli.CodeOf(err) != cli.ExitUnavailable {
		t.Errorf("closed ConfigHub: %v (exit %d), want exit 3", err, cli.CodeOf(err))
	}
}

// The help names every suite, so the numbers users see in reports are explained.
func TestValidateHelp(t *testing.T) {
	code, out, _ := runStdin("", "validate", "--help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, s := range []string{"01 ConfigHub space exists", "15 availability", "--local", "--filename", "Exit codes:"} {
		if !strings.Contains(out, s) {
			t.Errorf("help lacks %q", s)
		}
	}
}
