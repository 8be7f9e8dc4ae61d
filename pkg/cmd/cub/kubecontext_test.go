package cub

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/finos/traderx-plugins/pkg/cli"
)

func TestResolveKubeContext(t *testing.T) {
	cases := []struct {
		kubeContext, context string
		want                 string
		wantErr              bool
	}{
		{"", "", "", false},
		{"kind-a", "", "kind-a", false},       // under cub: only --kube-context arrives
		{"", "kind-a", "kind-a", false},       // run directly, kubectl style
		{"kind-a", "kind-a", "kind-a", false}, // both, agreeing
		{"kind-a", "kind-b", "", true},        // both, disagreeing
		{"kind-a", "KIND-A", "", true},        // context names are case-sensitive
	}
	for _, tc := range cases {
		got, err := resolveKubeContext(tc.kubeContext, tc.context)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("resolveKubeContext(%q, %q) = %q, %v; want %q, error %v", tc.kubeContext, tc.context, got, err, tc.want, tc.wantErr)
		}
		if err != nil && cli.CodeOf(err) != cli.ExitUsage {
			t.Errorf("resolveKubeContext(%q, %q): exit %d, want %d", tc.kubeContext, tc.context, cli.CodeOf(err), cli.ExitUsage)
		}
	}
}

// The flags as a run of the root command sees them: the chosen context is
// the one the cluster access (the health gates) connects to.
func TestKubeContextThroughRoot(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
current-context: a
clusters:
- name: a
  cluster: {server: "https://a.example:6443"}
- name: b
  cluster: {server: "https://b.example:6443"}
users:
- name: u
  user: {token: t}
contexts:
- name: a
  context: {cluster: a, user: u}
- name: b
  context: {cluster: b, user: u}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		args     []string
		code     int
		wantHost string
		wantErr  string
	}{
		{name: "current context", args: nil, wantHost: "https://a.example:6443"},
		{name: "--kube-context, as under cub", args: []string{"--kube-context", "b"}, wantHost: "https://b.example:6443"},
		{name: "--context, run directly", args: []string{"--context=b"}, wantHost: "https://b.example:6443"},
		{name: "both agreeing", args: []string{"--context", "b", "--kube-context", "b"}, wantHost: "https://b.example:6443"},
		{name: "both differing", args: []string{"--context", "a", "--kube-context", "b"}, code: cli.ExitUsage,
			wantErr: `error: --kube-context "b" and --context "a" name different kubeconfig contexts: give only --kube-context`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
			env := Env{Getenv: func(string) string { return "" }, HomeDir: t.TempDir()}
			root, g := newRoot(streams, env)
			args := append([]string{"version", "--kubeconfig", kubeconfig}, tc.args...)
			if code := cli.Execute(root, args, &errOut); code != tc.code {
				t.Fatalf("exit %d, want %d\n%s", code, tc.code, errOut.String())
			}
			if tc.wantErr != "" {
				if !strings.HasPrefix(errOut.String(), tc.wantErr) || strings.Count(errOut.String(), "\n") != 1 || out.Len() != 0 {
					t.Errorf("want one line starting %q, got stdout %q stderr %q", tc.wantErr, out.String(), errOut.String())
				}
				return
			}
			cfg, err := g.kube.ToRESTConfig()
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Host != tc.wantHost {
				t.Errorf("cluster access goes to %s, want %s", cfg.Host, tc.wantHost)
			}
		})
	}
}
