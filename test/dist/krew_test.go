//go:build dist

package dist

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/finos/traderx-plugins/pkg/plugins"
)

// krewManifest is the part of the rendered manifest the tests read.
type krewManifest struct {
	Spec struct {
		Version          string `json:"version"`
		ShortDescription string `json:"shortDescription"`
		Platforms        []struct {
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
			URI    string `json:"uri"`
			Sha256 string `json:"sha256"`
			Bin    string `json:"bin"`
		} `json:"platforms"`
	} `json:"spec"`
}

func renderedManifest(t *testing.T) (string, []byte, krewManifest) {
	t.Helper()
	path := filepath.Join(distDir(t), plugins.Kubectl().Name+".yaml")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m krewManifest
	if err := yaml.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return path, raw, m
}

// TestKrewManifestMatchesArchives: the rendered manifest carries plugins.yaml's
// summary, the dist version and the digest of each archive.
func TestKrewManifestMatchesArchives(t *testing.T) {
	d := loadDist(t)
	_, _, m := renderedManifest(t)
	if m.Spec.ShortDescription != plugins.Kubectl().Summary || m.Spec.Version != d.Version {
		t.Errorf("shortDescription %q, version %q", m.Spec.ShortDescription, m.Spec.Version)
	}
	if len(m.Spec.Platforms) != len(d.Platforms) {
		t.Fatalf("%d platforms", len(m.Spec.Platforms))
	}
	for _, p := range m.Spec.Platforms {
		pl := plugins.Platform{OS: p.Selector.MatchLabels["os"], Arch: p.Selector.MatchLabels["arch"]}
		name := plugins.Archive(d.Version, pl)
		if !strings.HasSuffix(p.URI, "/"+name) || p.Sha256 != d.Archives[name] || p.Bin != pl.Exe(plugins.Kubectl().Binary) {
			t.Errorf("%s: %+v", pl, p)
		}
	}
}

// TestKrewManifestValidates runs krew's own validator: structure, then a
// real install of every platform (KREW_OS/KREW_ARCH) through `kubectl krew`,
// with the archives served from loopback in place of the release URLs, and
// the LICENSE check.
func TestKrewManifestValidates(t *testing.T) {
	path, raw, m := renderedManifest(t)
	validator := filepath.Join(krewDir(t), "validate-krew-manifest")
	if r := run(t, exec.Command(validator, "-manifest", path, "-skip-install")); r.code != 0 {
		t.Fatalf("validate-krew-manifest -skip-install: %s", fmtErr(r))
	}

	srv := httptest.NewServer(http.FileServer(http.Dir(distDir(t))))
	defer srv.Close()
	prefix := m.Spec.Platforms[0].URI[:strings.LastIndex(m.Spec.Platforms[0].URI, "/")+1]
	local := filepath.Join(t.TempDir(), filepath.Base(path))
	if err := os.WriteFile(local, []byte(strings.ReplaceAll(string(raw), prefix, srv.URL+"/")), 0o644); err != nil {
		t.Fatal(err)
	}
	// The validator runs `kubectl krew install` with only KREW_*, PATH set.
	cmd := exec.Command(validator, "-manifest", local)
	cmd.Env = cleanEnv("PATH=" + pluginPath(t) + string(os.PathListSeparator) + os.Getenv("PATH"))
	r := run(t, cmd)
	if r.code != 0 {
		t.Fatalf("validate-krew-manifest (installing every platform): %s", fmtErr(r))
	}
	if want := fmt.Sprintf("all %d spec.platforms installed fine", len(loadDist(t).Platforms)); !strings.Contains(r.stderr, want) {
		t.Errorf("validator output lacks %q:\n%s", want, r.stderr)
	}
}

// pluginPath is a directory holding kubectl-krew, so `kubectl krew` works.
func pluginPath(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Symlink(filepath.Join(krewDir(t), "krew"), filepath.Join(dir, "kubectl-krew")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// krewInstall installs the host archive with a manifest into a fresh
// KREW_ROOT, offline: --manifest skips the index, --archive the download.
func krewInstall(t *testing.T, manifest string) (string, result) {
	t.Helper()
	d := loadDist(t)
	krewRoot := t.TempDir()
	archive := filepath.Join(distDir(t), plugins.Archive(d.Version, host()))
	cmd := exec.Command(filepath.Join(krewDir(t), "krew"), "install", "--manifest="+manifest, "--archive="+archive)
	cmd.Env = cleanEnv("KREW_ROOT="+krewRoot, "KREW_NO_UPGRADE_CHECK=1", "HOME="+t.TempDir(),
		"PATH="+filepath.Join(krewRoot, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	return krewRoot, run(t, cmd)
}

// TestKrewInstallAndKubectlDispatch installs the plugin with the real krew and
// runs it the way users do: `kubectl traderx …` through kubectl's plugin
// dispatch, completion through kubectl_complete-traderx.
func TestKrewInstallAndKubectlDispatch(t *testing.T) {
	d := loadDist(t)
	manifest, _, _ := renderedManifest(t)
	krewRoot, r := krewInstall(t, manifest)
	if r.code != 0 {
		t.Fatalf("krew install: %s", fmtErr(r))
	}
	bin := filepath.Join(krewRoot, "bin")
	if _, err := os.Stat(filepath.Join(bin, "kubectl-traderx")); err != nil {
		t.Fatalf("krew linked no kubectl-traderx: %v", err)
	}
	// krew installs the completion script beside the plugin without linking it;
	// the manifest's caveats tell users to link it, as this test does. Of the
	// archive, which also carries the cub plugin, krew copies only the files
	// its manifest names.
	store := filepath.Join(krewRoot, "store", "traderx", d.Version)
	stored, err := os.ReadDir(store)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range stored {
		names = append(names, e.Name())
	}
	want := plugins.KubectlFiles(host())
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("krew stored %v, want only the kubectl plugin's files %v", names, want)
	}
	kubectl := func(args ...string) result {
		cmd := exec.Command("kubectl", args...)
		cmd.Env = cleanEnv("HOME="+t.TempDir(), "NO_COLOR=1", "KUBECONFIG="+filepath.Join(t.TempDir(), "none"),
			"PATH="+bin+string(os.PathListSeparator)+store+string(os.PathListSeparator)+os.Getenv("PATH"))
		return run(t, cmd)
	}
	if _, err := exec.LookPath("kubectl"); err != nil {
		t.Fatal("kubectl is not on PATH; the README lists it as a requirement")
	}

	if r := kubectl("traderx", "version"); r.code != 0 || !strings.HasPrefix(r.stdout, "kubectl-traderx "+d.Version+" (commit "+d.Commit) {
		t.Fatalf("kubectl traderx version: %s", fmtErr(r))
	}
	r = kubectl("traderx", "version", "-o", "json")
	var info map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil || r.code != 0 {
		t.Fatalf("kubectl traderx version -o json: %v\n%s", err, fmtErr(r))
	}
	for key, want := range map[string]string{"version": d.Version, "commit": d.Commit, "date": d.Date, "goVersion": d.GoVersion} {
		if info[key] != want {
			t.Errorf("version -o json: %s = %q, want %q", key, info[key], want)
		}
	}
	if r := kubectl("traderx", "--help"); r.code != 0 || !strings.Contains(r.stdout, "\n  kubectl traderx [command]\n") ||
		!strings.Contains(r.stdout, `Use "kubectl traderx [command] --help"`) {
		t.Errorf("kubectl traderx --help: %s", fmtErr(r))
	}
	if r := kubectl("traderx", "no-such-command"); r.code != 2 {
		t.Errorf("unknown command through kubectl: %s", fmtErr(r))
	}

	envs := []string{"dev", "staging", "prod"}
	// The plugin's own completion, as kubectl_complete-traderx calls it.
	direct := exec.Command(filepath.Join(bin, "kubectl-traderx"), "__complete", "health", "")
	direct.Env = cleanEnv("HOME=" + t.TempDir())
	if r := run(t, direct); r.code != 0 || !completes(r.stdout, envs) {
		t.Errorf("kubectl-traderx __complete health \"\": %s", fmtErr(r))
	}
	// kubectl's completion of plugin arguments (kubectl 1.26 and later).
	if r := kubectl("__complete", "traderx", "health", ""); r.code != 0 || !completes(r.stdout, envs) {
		t.Errorf("kubectl __complete traderx health \"\": %s", fmtErr(r))
	}
}

// completes reports whether cobra's __complete output lists exactly want.
func completes(out string, want []string) bool {
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l != "" && !strings.HasPrefix(l, ":") && !strings.HasPrefix(l, "Completion ended") {
			got = append(got, strings.SplitN(l, "\t", 2)[0])
		}
	}
	return strings.Join(got, ",") == strings.Join(want, ",")
}

// TestKrewRejectsWrongDigest: a manifest whose sha256 does not match the
// archive must fail the install and link nothing.
func TestKrewRejectsWrongDigest(t *testing.T) {
	d := loadDist(t)
	_, raw, _ := renderedManifest(t)
	good := d.Archives[plugins.Archive(d.Version, host())]
	bad := strings.Repeat("deadbeef", 8) // well-formed, wrong
	if strings.Count(string(raw), good) != 1 {
		t.Fatalf("manifest lacks the host archive's digest %s", good)
	}
	path := filepath.Join(t.TempDir(), plugins.Kubectl().Name+".yaml")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(raw), good, bad)), 0o644); err != nil {
		t.Fatal(err)
	}
	krewRoot, r := krewInstall(t, path)
	if r.code == 0 {
		t.Fatalf("krew installed an archive whose digest does not match: %s", fmtErr(r))
	}
	if !strings.Contains(r.stderr, good) {
		t.Errorf("krew's error does not name the actual digest:\n%s", r.stderr)
	}
	if _, err := os.Lstat(filepath.Join(krewRoot, "bin", "kubectl-traderx")); err == nil {
		t.Error("kubectl-traderx was linked despite the failed install")
	}
}
