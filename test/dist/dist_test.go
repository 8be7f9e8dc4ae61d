//go:build dist

// These tests take the release archives of `make dist` the way users and
// package managers consume them: krew validates and installs the kubectl
// plugin (real krew, built from its Go module), kubectl dispatches to it,
// cub's selection of an archive from a release and its install protocol are
// followed for every platform, and a rebuild gives the same bytes. Run
// through `make dist-test`.

package dist

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/finos/traderx-plugins/pkg/plugins"
)

// distInfo is dist/dist.json, written by hack/dist.
type distInfo struct {
	Version   string            `json:"version"`
	Commit    string            `json:"commit"`
	Date      string            `json:"date"`
	GoVersion string            `json:"goVersion"`
	Platforms []string          `json:"platforms"`
	Archives  map[string]string `json:"archives"`
}

// platforms are the platforms the dist run built (make dist: all of
// plugins.yaml's, which TestArchivesAreComplete checks). The other tests
// cover what was built, so a partial build (hack/dist -platforms) can be
// tested too.
func (d distInfo) platforms(t *testing.T) []plugins.Platform {
	t.Helper()
	var out []plugins.Platform
	for _, s := range d.Platforms {
		os, arch, ok := strings.Cut(s, "/")
		if !ok {
			t.Fatalf("dist.json platform %q is not os/arch", s)
		}
		out = append(out, plugins.Platform{OS: os, Arch: arch})
	}
	return out
}

func distDir(t *testing.T) string {
	t.Helper()
	d := os.Getenv("TRADERX_DIST_DIR")
	if d == "" {
		t.Fatal("TRADERX_DIST_DIR is not set; run through `make dist-test`")
	}
	return d
}

func krewDir(t *testing.T) string {
	t.Helper()
	d := os.Getenv("TRADERX_KREW_DIR")
	if d == "" {
		t.Fatal("TRADERX_KREW_DIR is not set; run through `make dist-test`")
	}
	return d
}

func loadDist(t *testing.T) distInfo {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(distDir(t), "dist.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d distInfo
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func host() plugins.Platform { return plugins.Platform{OS: runtime.GOOS, Arch: runtime.GOARCH} }

type result struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

// run runs cmd with a deadline and returns its exit code and output.
func run(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("%v: still running after 2 minutes", cmd.Args)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	return result{code, out.String(), errOut.String(), time.Since(start)}
}

// cleanEnv is the test's environment without variables that would change
// what the plugins or krew do.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "CUB_") || strings.HasPrefix(kv, "KREW_") || strings.HasPrefix(kv, "KUBECONFIG=") ||
			strings.HasPrefix(kv, "PATH=") || strings.HasPrefix(kv, "HOME=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

type archived struct {
	mode  os.FileMode
	mtime time.Time
	data  []byte
}

// readArchive returns the entries of a .tar.gz, in archive order, and checks
// the metadata every entry must have.
func readArchive(t *testing.T, path string) ([]string, map[string]archived) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	entries := map[string]archived{}
	gz, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if gz.Name != "" || !gz.ModTime.IsZero() {
		t.Errorf("%s: gzip header carries name %q, time %v", path, gz.Name, gz.ModTime)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: %s: type %c uid %d gid %d %q/%q", path, h.Name, h.Typeflag, h.Uid, h.Gid, h.Uname, h.Gname)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		entries[h.Name] = archived{h.FileInfo().Mode(), h.ModTime.UTC(), data}
	}
	return names, entries
}

// extract unpacks a .tar.gz into dir, keeping modes, as cub and krew do.
func extract(t *testing.T, archive, dir string) {
	t.Helper()
	_, entries := readArchive(t, archive)
	for name, e := range entries {
		if err := os.WriteFile(filepath.Join(dir, name), e.data, e.mode.Perm()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestArchivesAreComplete checks every platform's archive: its entries, all
// at the top (cub and krew read them there), their modes and times, the
// shipped cub-plugin.yaml and the .sha256 file.
func TestArchivesAreComplete(t *testing.T) {
	d, dir := loadDist(t), distDir(t)
	if got, want := len(d.Platforms), len(plugins.Get().Platforms); got != want {
		t.Errorf("dist holds %d platforms, plugins.yaml lists %d", got, want)
	}
	if got, want := len(d.Archives), len(d.Platforms); got != want {
		t.Errorf("dist holds %d archives, want one per platform (%d)", got, want)
	}
	mtime, err := time.Parse(time.RFC3339, d.Date)
	if err != nil {
		t.Fatalf("dist.json date: %v", err)
	}
	k, c := plugins.Kubectl(), plugins.Cub()
	for _, p := range d.platforms(t) {
		name := plugins.Archive(d.Version, p)
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(raw)
		want := hex.EncodeToString(sum[:])
		line, err := os.ReadFile(filepath.Join(dir, name+".sha256"))
		if err != nil {
			t.Fatal(err)
		}
		if string(line) != want+"  "+name+"\n" || d.Archives[name] != want {
			t.Errorf("%s: .sha256 %q, dist.json %q, actual %s", name, line, d.Archives[name], want)
		}

		wantNames := append(plugins.KubectlFiles(p), plugins.CubFiles(p)...)
		slices.Sort(wantNames)
		names, entries := readArchive(t, filepath.Join(dir, name))
		if !slices.Equal(names, wantNames) {
			t.Errorf("%s holds %v, want %v", name, names, wantNames)
		}
		for _, bin := range []string{p.Exe(k.Binary), p.Exe(c.Binary)} {
			if e := entries[bin]; e.mode.Perm() != 0o755 || len(e.data) < 1<<20 {
				t.Errorf("%s: %s mode %v, %d bytes", name, bin, e.mode, len(e.data))
			}
		}
		if e := entries["LICENSE"]; e.mode.Perm() != 0o644 || !bytes.Contains(e.data, []byte("Apache License")) {
			t.Errorf("%s: LICENSE mode %v", name, e.mode)
		}
		if p.OS != "windows" {
			if e := entries[plugins.CompletionScript()]; e.mode.Perm() != 0o755 || string(e.data) != plugins.CompletionScriptText() {
				t.Errorf("%s: completion script mode %v:\n%s", name, e.mode, e.data)
			}
		}
		wantManifest, err := plugins.CubManifest(d.Version, p.Exe(c.Binary))
		if err != nil {
			t.Fatal(err)
		}
		if e := entries[plugins.CubManifestFile]; !bytes.Equal(e.data, wantManifest) || e.mode.Perm() != 0o644 {
			t.Errorf("%s: cub-plugin.yaml mode %v\n%s\nwant\n%s", name, e.mode, e.data, wantManifest)
		}
		for n, e := range entries {
			if !e.mtime.Equal(mtime) {
				t.Errorf("%s: %s has time %v, want the commit date %v", name, n, e.mtime, mtime)
			}
		}
	}
}

// TestRebuildGivesSameBytes rebuilds the host platform and Windows (.exe
// names, no completion script) from the same inputs and compares the
// archives byte for byte.
func TestRebuildGivesSameBytes(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-builds")
	}
	d, dir := loadDist(t), distDir(t)
	out := t.TempDir()
	platforms := []plugins.Platform{host(), {OS: "windows", Arch: "amd64"}}
	var list []string
	for _, p := range platforms {
		list = append(list, p.String())
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "run", "./hack/dist", "-version", d.Version, "-commit", d.Commit, "-date", d.Date,
		"-out", out, "-platforms", strings.Join(list, ","))
	cmd.Dir = root
	if r := run(t, cmd); r.code != 0 {
		t.Fatalf("rebuild: exit %d\n%s", r.code, r.stderr)
	}
	for _, p := range platforms {
		name := plugins.Archive(d.Version, p)
		a, errA := os.ReadFile(filepath.Join(dir, name))
		b, errB := os.ReadFile(filepath.Join(out, name))
		if errA != nil || errB != nil {
			t.Fatal(errA, errB)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between two builds from the same inputs", name)
		}
	}
}

// cubCommand is what cub reads from cub-plugin.yaml.
type cubCommand struct {
	Name       string   `json:"name"`
	Aliases    []string `json:"aliases"`
	Summary    string   `json:"summary"`
	Entrypoint string   `json:"entrypoint"`
	Args       []string `json:"args"`
}

func fmtErr(r result) string {
	return fmt.Sprintf("exit %d after %s\nstdout:\n%s\nstderr:\n%s", r.code, r.took.Round(time.Millisecond), r.stdout, r.stderr)
}
