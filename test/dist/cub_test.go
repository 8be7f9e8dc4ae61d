//go:build dist

package dist

import (
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/finos/traderx-plugins/pkg/plugins"
)

// cubManifest is cub-plugin.yaml as cub reads it.
type cubManifest struct {
	Name       string       `json:"name"`
	Version    string       `json:"version"`
	Entrypoint string       `json:"entrypoint"`
	Commands   []cubCommand `json:"commands"`
}

func readCubManifest(t *testing.T, slot string) cubManifest {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(slot, "cub-plugin.yaml"))
	if err != nil {
		t.Fatalf("no cub-plugin.yaml in %s: %v", slot, err)
	}
	var m cubManifest
	if err := yaml.UnmarshalStrict(raw, &m); err != nil {
		t.Fatalf("cub-plugin.yaml: %v\n%s", err, raw)
	}
	return m
}

// route finds the command cub runs for `cub <token>`, as cub does: by name or alias.
func route(t *testing.T, m cubManifest, token string) cubCommand {
	t.Helper()
	for _, c := range m.Commands {
		if c.Name == token || slices.Contains(c.Aliases, token) {
			if c.Entrypoint == "" {
				c.Entrypoint = "main"
			}
			return c
		}
	}
	t.Fatalf("unknown command %q for \"cub\": manifest has %+v", token, m.Commands)
	return cubCommand{}
}

// cubArgs are the user's arguments as cub passes them to a plugin: without
// --debug, --context X and --context=X, which cub keeps for itself (newer
// cub's extractPluginArgs).
func cubArgs(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		switch {
		case args[i] == "--debug", strings.HasPrefix(args[i], "--context="):
		case args[i] == "--context":
			i++
		default:
			out = append(out, args[i])
		}
	}
	return out
}

// cubExec runs `cub traderx <args>` the way cub does after routing: argv[0]
// is the entrypoint's absolute path, then the manifest's args and the user's
// arguments less cub's own flags, with cub's run-time variables appended to
// the environment.
func cubExec(t *testing.T, slot string, args ...string) result {
	t.Helper()
	m := readCubManifest(t, slot)
	c := route(t, m, plugins.Cub().Name)
	entry, err := filepath.Abs(filepath.Join(slot, c.Entrypoint))
	if err != nil {
		t.Fatal(err)
	}
	config := t.TempDir()
	cmd := &exec.Cmd{Path: entry, Args: append(append([]string{entry}, c.Args...), cubArgs(args)...), Dir: t.TempDir()}
	cmd.Env = cleanEnv("PATH="+os.Getenv("PATH"), "HOME="+t.TempDir(), "NO_COLOR=1",
		"CUB_PLUGIN=1", "CUB_CONFIG="+config, "CUB_CONTEXT=traderx-test",
		"CUB_SERVER=http://127.0.0.1:9", "CUB_TOKEN=test-token")
	return run(t, cmd)
}

// checkCubRuns runs the installed plugin the way cub does and checks that
// exit codes pass through.
func checkCubRuns(t *testing.T, slot string) {
	t.Helper()
	d := loadDist(t)
	if r := cubExec(t, slot, "version"); r.code != 0 || !strings.HasPrefix(r.stdout, "cub-traderx "+d.Version+" (commit "+d.Commit) {
		t.Errorf("cub traderx version: %s", fmtErr(r))
	}
	r := cubExec(t, slot, "version", "-o", "json")
	var info map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil || r.code != 0 ||
		info["version"] != d.Version || info["commit"] != d.Commit || info["date"] != d.Date || info["goVersion"] != d.GoVersion {
		t.Errorf("cub traderx version -o json (%v): %s", err, fmtErr(r))
	}
	if r := cubExec(t, slot, "no-such-command"); r.code != 2 || strings.Count(r.stderr, "\n") != 1 ||
		!strings.Contains(r.stderr, `unknown command "no-such-command"`) {
		t.Errorf("cub traderx no-such-command: want exit 2 and one line: %s", fmtErr(r))
	}
	if r := cubExec(t, slot, "--help"); r.code != 0 || !strings.Contains(r.stdout, "\n  cub traderx [command]\n") ||
		!strings.Contains(r.stdout, `Use "cub traderx [command] --help"`) || !strings.Contains(r.stdout, "--kube-context") {
		t.Errorf("cub traderx --help: %s", fmtErr(r))
	}
	// cub's --context (a ConfigHub context) and --debug never reach the
	// plugin: no unknown flag, no clash with --kube-context.
	if r := cubExec(t, slot, "--context", "hub-staging", "version", "--debug", "--kube-context", "kind-b"); r.code != 0 {
		t.Errorf("cub --context hub-staging traderx version --debug --kube-context kind-b: %s", fmtErr(r))
	}
}

// TestCubInstallBareBinary follows cub's install of a bare binary from a
// direct URL: the download is saved under the slot name in a staging
// directory, run there with no arguments as the install hook, and must write
// a cub-plugin.yaml naming the command traderx and quickly exit. cub then
// makes entrypoints executable and moves the directory into plugins/.
func TestCubInstallBareBinary(t *testing.T) {
	p := host()
	binary := filepath.Join(t.TempDir(), "extracted")
	if err := os.MkdirAll(binary, 0o755); err != nil {
		t.Fatal(err)
	}
	extract(t, filepath.Join(distDir(t), plugins.Archive(loadDist(t).Version, p)), binary)
	download, err := os.ReadFile(filepath.Join(binary, p.Exe(plugins.Cub().Binary)))
	if err != nil {
		t.Fatal(err)
	}

	config := t.TempDir()
	staging := filepath.Join(config, "plugins", ".staging-cub-traderx")
	if err := os.MkdirAll(staging, 0o755); err != nil {
		t.Fatal(err)
	}
	// A direct URL's last path segment (minus .exe) is the slot name; cub keeps the cub- prefix.
	saved := filepath.Join(staging, p.Exe("cub-traderx"))
	if err := os.WriteFile(saved, download, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, hook := range []string{"install", "upgrade"} {
		cmd := exec.Command(saved)
		cmd.Args = []string{saved}
		cmd.Dir = staging
		extra := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "CUB_PLUGIN=1", "CUB_CONFIG=" + config,
			"CUB_CONTEXT=traderx-test", "CUB_SERVER=http://127.0.0.1:9", "CUB_PLUGIN_HOOK=" + hook, "CUB_PLUGIN_DIR=" + staging}
		if hook == "upgrade" {
			extra = append(extra, "CUB_PLUGIN_PREVIOUS_VERSION=v0.0.1")
		}
		cmd.Env = cleanEnv(extra...)
		r := run(t, cmd)
		if r.took > 5*time.Second {
			t.Errorf("%s hook took %s; cub kills it at 30s and it should be instant", hook, r.took)
		}
		if r.code != 0 || r.stdout != "" {
			t.Errorf("%s hook: %s", hook, fmtErr(r))
		}
		m := readCubManifest(t, staging)
		if len(m.Commands) != 1 || m.Commands[0].Name != plugins.Cub().Name || m.Commands[0].Entrypoint != filepath.Base(saved) ||
			m.Commands[0].Summary != plugins.Cub().Summary || m.Version != loadDist(t).Version {
			t.Errorf("%s hook wrote %+v", hook, m)
		}
	}
	entries, err := os.ReadDir(staging)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"cub-plugin.yaml", filepath.Base(saved)}; !slices.Equal(names, want) {
		t.Errorf("staging directory holds %v, want %v", names, want)
	}

	slot := filepath.Join(config, "plugins", "traderx")
	if err := os.Rename(staging, slot); err != nil {
		t.Fatal(err)
	}
	checkCubRuns(t, slot)
}

// TestCubInstallFromRelease follows `cub plugin install --name traderx
// finos/traderx-plugins[@tag]` for every platform built: cub lists the release's
// assets (everything dist/ holds but dist.json), picks one with CubSelect —
// in alphabetical order, the order GitHub shows, and reversed, since the
// order is not documented — and unpacks it, without a hook, as the plugin
// directory. Every pick must be that platform's archive with cub-plugin.yaml
// at the top naming an executable entrypoint built for the platform; the
// host's is run as cub runs it. (krew_test installs the same archives with
// krew.)
func TestCubInstallFromRelease(t *testing.T) {
	d, dir := loadDist(t), distDir(t)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var assets []string
	for _, e := range entries {
		if e.Name() != "dist.json" {
			assets = append(assets, e.Name())
		}
	}
	slices.Sort(assets)
	reversed := slices.Clone(assets)
	slices.Reverse(reversed)
	ran := false
	for _, p := range d.platforms(t) {
		want := plugins.Archive(d.Version, p)
		for _, order := range [][]string{assets, reversed} {
			got, err := CubSelect(order, p.OS, p.Arch)
			if err != nil || got != want {
				t.Errorf("%s: cub picks %q (%v) from %v, want %s", p, got, err, order, want)
			}
		}
		if c := CubCandidates(assets, p.OS, p.Arch); !slices.Equal(c, []string{want}) {
			t.Errorf("%s: cub considers %v, want only %s", p, c, want)
		}

		slot := filepath.Join(t.TempDir(), "plugins", "traderx")
		if err := os.MkdirAll(slot, 0o755); err != nil {
			t.Fatal(err)
		}
		extract(t, filepath.Join(dir, want), slot)
		c := route(t, readCubManifest(t, slot), plugins.Cub().Name)
		entry := filepath.Join(slot, c.Entrypoint)
		fi, err := os.Stat(entry)
		if err != nil || fi.Mode().Perm()&0o111 == 0 {
			t.Errorf("%s: entrypoint %q missing or not executable after extraction: %v %v", p, c.Entrypoint, err, fi)
			continue
		}
		if err := builtFor(entry, p); err != nil {
			t.Errorf("%s: entrypoint %s: %v", p, c.Entrypoint, err)
		}
		if p == host() {
			checkCubRuns(t, slot)
			ran = true
		}
	}
	if !ran {
		t.Errorf("the host platform %s was not built: no archive was run", host())
	}
}

// builtFor checks that path is an executable for p: ELF on Linux, Mach-O on
// macOS, PE on Windows, for p's architecture.
func builtFor(path string, p plugins.Platform) error {
	machines := map[string]map[string]any{
		"linux":   {"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64},
		"darwin":  {"amd64": macho.CpuAmd64, "arm64": macho.CpuArm64},
		"windows": {"amd64": uint16(pe.IMAGE_FILE_MACHINE_AMD64), "arm64": uint16(pe.IMAGE_FILE_MACHINE_ARM64)},
	}
	want, ok := machines[p.OS][p.Arch]
	if !ok {
		return fmt.Errorf("no check for %s", p)
	}
	var got any
	switch p.OS {
	case "linux":
		f, err := elf.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		got = f.Machine
	case "darwin":
		f, err := macho.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		got = f.Cpu
	case "windows":
		f, err := pe.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		got = f.Machine
	}
	if got != want {
		return fmt.Errorf("built for %v, want %v", got, want)
	}
	return nil
}
