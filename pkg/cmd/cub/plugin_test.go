package cub

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/yaml"

	"github.com/finos/traderx-plugins/pkg/plugins"
)

func runWith(env map[string]string, args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	code := Run("/tmp/staging/cub-traderx", args, streams, Env{Getenv: func(k string) string { return env[k] }, HomeDir: os.TempDir()})
	return code, out.String(), errOut.String()
}

// cub runs a bare-binary plugin once with CUB_PLUGIN_HOOK=install and
// CUB_PLUGIN_DIR: the binary writes cub-plugin.yaml and exits at once.
func TestInstallHookWritesManifest(t *testing.T) {
	for _, hook := range []string{"install", "upgrade"} {
		dir := t.TempDir()
		start := time.Now()
		code, stdout, stderr := runWith(map[string]string{"CUB_PLUGIN_HOOK": hook, "CUB_PLUGIN_DIR": dir, "CUB_PLUGIN": "1"})
		if code != 0 || stdout != "" || !strings.Contains(stderr, "wrote "+filepath.Join(dir, ManifestFile)) {
			t.Fatalf("%s hook: exit %d, stdout %q, stderr %q", hook, code, stdout, stderr)
		}
		if time.Since(start) > time.Second {
			t.Errorf("hook took %s", time.Since(start))
		}
		var m plugins.CubPluginManifest
		b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.UnmarshalStrict(b, &m); err != nil {
			t.Fatal(err)
		}
		if len(m.Commands) != 1 || m.Commands[0].Name != "traderx" || m.Commands[0].Entrypoint != "cub-traderx" ||
			m.Commands[0].Summary == "" || m.Version == "" {
			t.Errorf("manifest: %+v", m)
		}
	}
	if code, _, stderr := runWith(map[string]string{"CUB_PLUGIN_HOOK": "install"}); code != 2 || !strings.Contains(stderr, "CUB_PLUGIN_DIR is empty") {
		t.Errorf("hook without a dir: exit %d, %q", code, stderr)
	}
}

// Run directly (or by cub), help names the command the way users type it.
func TestHelpShowsCubTraderx(t *testing.T) {
	code, stdout, _ := runWith(nil, "--help")
	if code != 0 || !strings.Contains(stdout, "cub traderx [command]") {
		t.Fatalf("help: exit %d\n%s", code, stdout)
	}
	for _, c := range []string{"install", "apply", "status", "version"} {
		if !strings.Contains(stdout, "  "+c+" ") {
			t.Errorf("help lacks %s", c)
		}
	}
	code, stdout, _ = runWith(nil, "apply", "--help")
	if code != 0 || !strings.Contains(stdout, "cub traderx apply <env>") || !strings.Contains(stdout, "--yes") {
		t.Errorf("apply help:\n%s", stdout)
	}
}
