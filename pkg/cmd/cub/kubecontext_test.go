package cub

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/traderx"
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

// twoClusterKubeconfig has contexts a (current) and b, each on its own server.
func twoClusterKubeconfig(t *testing.T) string {
	t.Helper()
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
	return kubeconfig
}

// The flags as a run of the root command sees them: the chosen context is
// the one the cluster access (the health gates) connects to.
func TestKubeContextThroughRoot(t *testing.T) {
	kubeconfig := twoClusterKubeconfig(t)
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

// Each environment's gates read its own cluster: the mapping file sends prod
// to b while dev stays on the current context; --kube-context wins for all;
// a mapped context the kubeconfig lacks is exit 2, with no fall back.
func TestClusterPerEnvironment(t *testing.T) {
	kubeconfig := twoClusterKubeconfig(t)
	cases := []struct {
		name             string
		mapping          string
		args             []string
		env              string
		wantHost         string
		wantCode         int
		wantErrSubstring string
	}{
		{name: "prod mapped", mapping: "contexts: {prod: b}", env: "prod", wantHost: "https://b.example:6443"},
		{name: "dev unmapped: current", mapping: "contexts: {prod: b}", env: "dev", wantHost: "https://a.example:6443"},
		{name: "the flag wins", mapping: "contexts: {prod: b}", args: []string{"--kube-context", "a"}, env: "prod", wantHost: "https://a.example:6443"},
		{name: "unknown mapped context", mapping: "contexts: {prod: gone}", env: "prod", wantCode: cli.ExitUsage,
			wantErrSubstring: `names kube context "gone", which the kubeconfig does not have (it has: a, b)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			if err := os.MkdirAll(filepath.Join(home, ".config", "traderx"), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(home, ".config", "traderx", "clusters.yaml"), []byte(tc.mapping), 0o600); err != nil {
				t.Fatal(err)
			}
			var out, errOut bytes.Buffer
			streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
			root, g := newRoot(streams, Env{Getenv: func(string) string { return "" }, HomeDir: home})
			if code := cli.Execute(root, append([]string{"version", "--kubeconfig", kubeconfig}, tc.args...), &errOut); code != 0 {
				t.Fatalf("exit %d: %s", code, errOut.String())
			}
			env, _ := traderx.LookupEnvironment(tc.env)
			access, err := g.clusterAccess(context.Background(), env)
			if tc.wantCode != 0 {
				if cli.CodeOf(err) != tc.wantCode || !strings.Contains(fmt.Sprint(err), tc.wantErrSubstring) {
					t.Errorf("error %v (exit %d), want exit %d with %q", err, cli.CodeOf(err), tc.wantCode, tc.wantErrSubstring)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if access.Host != tc.wantHost {
				t.Errorf("%s is read on %s, want %s", tc.env, access.Host, tc.wantHost)
			}
		})
	}
}
