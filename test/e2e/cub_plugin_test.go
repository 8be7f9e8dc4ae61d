//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/finos/traderx-plugins/pkg/plugins"
	"github.com/finos/traderx-plugins/test/cluster"
)

// cubPlugin is cub-traderx installed the way cub installs a bare binary:
// copied into a staging directory under its slot name, started once with
// CUB_PLUGIN_HOOK=install, then run through the entrypoint of the manifest
// the hook wrote, with the environment cub appends.
type cubPlugin struct {
	dir, entrypoint string
	env             []string
}

func installCubPlugin(t *testing.T) *cubPlugin {
	t.Helper()
	bin := filepath.Join(os.Getenv("TRADERX_BIN_DIR"), "cub-traderx")
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatalf("cub-traderx not built (TRADERX_BIN_DIR): %v", err)
	}
	staging := t.TempDir()
	exe := filepath.Join(staging, "cub-traderx")
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	// The hook: no arguments, in the staging directory, 30 s at most.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hook := exec.CommandContext(ctx, exe)
	hook.Dir = staging
	hook.Env = append(os.Environ(), "CUB_PLUGIN=1", "CUB_PLUGIN_HOOK=install", "CUB_PLUGIN_DIR="+staging)
	var hookErr bytes.Buffer
	hook.Stdout, hook.Stderr = io.Discard, &hookErr
	start := time.Now()
	if err := hook.Run(); err != nil {
		t.Fatalf("install hook: %v\n%s", err, hookErr.String())
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("install hook took %s; cub kills it after 30 s", el)
	}
	raw, err := os.ReadFile(filepath.Join(staging, "cub-plugin.yaml"))
	if err != nil {
		t.Fatalf("the hook wrote no cub-plugin.yaml: %v\n%s", err, hookErr.String())
	}
	var m plugins.CubPluginManifest
	if err := yaml.UnmarshalStrict(raw, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Commands) != 1 || m.Commands[0].Name != "traderx" || m.Commands[0].Entrypoint != "cub-traderx" {
		t.Fatalf("manifest: %s", raw)
	}
	return &cubPlugin{dir: staging, entrypoint: m.Commands[0].Entrypoint}
}

// run execs the entrypoint the way cub does for `cub traderx <args>`.
func (p *cubPlugin) run(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(p.dir, p.entrypoint), args...)
	cmd.Env = append(os.Environ(), p.env...)
	var out, errOut bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(""), &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("cub traderx %v: %v", args, err)
	}
	return result{code, out.String(), errOut.String()}
}

func TestCubPluginInstallAndApplyDev(t *testing.T) {
	cluster.Require(t, testCluster)
	hub := newHub(t, "traderx")

	p := installCubPlugin(t)
	home := t.TempDir()
	p.env = []string{"CUB_PLUGIN=1", "CUB_SERVER=" + hub.URL, "CUB_TOKEN=" + hub.Token, "CUB_CONTEXT=e2e",
		"CUB_CONFIG=" + filepath.Join(home, ".confighub"), "HOME=" + home, "XDG_STATE_HOME=" + filepath.Join(home, "state"),
		"KUBECONFIG=" + testCluster.Kubeconfig, "NO_COLOR=1"}

	if r := p.run(t, "--help"); r.code != 0 || !strings.Contains(r.stdout, "cub traderx [command]") {
		t.Fatalf("help: %+v", r)
	}
	r := p.run(t, "install", "--envs", "dev")
	if r.code != 0 || !strings.Contains(r.stdout, "installed dev of project traderx") {
		t.Fatalf("install: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = p.run(t, "apply", "dev", "--settle", "1s", "--timeout", "90s")
	if r.code != 0 || !strings.Contains(r.stdout, "dev: applied 24 units") || !strings.Contains(r.stdout, "release 1 recorded") {
		t.Fatalf("apply dev: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stderr, hub.Token) {
		t.Error("the token leaked to stderr")
	}
	if err := cluster.WaitDeploymentsAvailable(context.Background(), testCluster.Client, "traderx-dev", 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	logs, _ := filepath.Glob(filepath.Join(home, "state", "traderx", "logs", "cub-traderx-*.log"))
	if len(logs) != 2 { // install and apply; help writes none
		t.Errorf("log files = %v, want 2", logs)
	}
	// A second apply is a no-op, and the read-only plugin agrees it is healthy.
	if r := p.run(t, "apply", "dev", "--settle", "0s"); r.code != 0 || !strings.Contains(r.stdout, "nothing to apply") {
		t.Fatalf("second apply: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if h := kubectl(t, nil, "traderx", "health", "dev"); h.code != 0 {
		t.Fatalf("kubectl traderx health dev: exit %d\n%s%s", h.code, h.stdout, h.stderr)
	}
	// Missing credentials: one line, exit 2.
	p.env = []string{"CUB_PLUGIN=1", "HOME=" + home, "CUB_CONFIG=" + filepath.Join(home, ".confighub")}
	if r := p.run(t, "status", "dev"); r.code != 2 || !strings.Contains(r.stderr, "no ConfigHub credentials") || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("no credentials: exit %d\n%s", r.code, r.stderr)
	}
}
