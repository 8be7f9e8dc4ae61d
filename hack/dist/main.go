// Command dist cross-builds both plugins and packs reproducible release
// archives (see `make dist`):
//
//	traderx-plugins_<version>_<os>_<arch>.tar.gz, one per platform, holding
//	    both plugins: kubectl-traderx, LICENSE and, except on Windows, the
//	    kubectl_complete-traderx script (what krew installs), and
//	    cub-plugin.yaml with cub-traderx (what cub runs; cub installs tarballs
//	    without running the install hook, so they ship the manifest).
//	    One archive per platform, because `cub plugin install <owner/repo>`
//	    takes any .tar.gz whose name holds the OS and architecture (see
//	    plugins.Archive).
//	<archive>.sha256 beside each, in sha256sum's format
//	traderx.yaml: the krew manifest rendered for these archives
//	dist.json: what was built, for the tests (not a release asset)
//
// Same sources, toolchain and flags give the same bytes: binaries are built
// with -trimpath, CGO off and fixed ldflags; archive entries are sorted and
// carry fixed times (the commit date), owners and modes; gzip writes no name
// or time.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/finos/traderx-plugins/pkg/plugins"
)

const cliPkg = "github.com/finos/traderx-plugins/pkg/cli"

// fallbackTime stamps archive entries when the commit date is unknown (no git).
var fallbackTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "dist: %v\n", err)
		os.Exit(1)
	}
}

// Manifest is dist.json: the inputs of a dist run and the digest of each archive.
type Manifest struct {
	Version   string            `json:"version"`
	Commit    string            `json:"commit"`
	Date      string            `json:"date"`
	GoVersion string            `json:"goVersion"`
	Platforms []string          `json:"platforms"`
	Archives  map[string]string `json:"archives"`
}

type options struct {
	version, commit, date, out, license, root string
	platforms                                 []plugins.Platform
	mtime                                     time.Time
}

func run(args []string, stderr io.Writer) error {
	fl := flag.NewFlagSet("dist", flag.ContinueOnError)
	fl.SetOutput(stderr)
	var o options
	var platforms string
	fl.StringVar(&o.version, "version", "", "release version, a semantic version with a leading v (required)")
	fl.StringVar(&o.commit, "commit", "unknown", "commit the binaries report")
	fl.StringVar(&o.date, "date", "unknown", "commit date (RFC 3339): the binaries' build date and the archive entries' time")
	fl.StringVar(&o.out, "out", "dist", "output directory (created; existing archives are overwritten)")
	fl.StringVar(&o.root, "root", ".", "module root: the directory holding go.mod and LICENSE")
	fl.StringVar(&platforms, "platforms", "", "comma-separated os/arch list (default: every platform of plugins.yaml)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if o.version == "" {
		return fmt.Errorf("-version is required")
	}
	o.license = filepath.Join(o.root, "LICENSE")
	var err error
	if o.platforms, err = selectPlatforms(platforms); err != nil {
		return err
	}
	o.mtime = fallbackTime
	if t, err := time.Parse(time.RFC3339, o.date); err == nil {
		o.mtime = t.UTC()
	} else {
		fmt.Fprintf(stderr, "dist: date %q is not RFC 3339; archive entries get %s\n", o.date, fallbackTime.Format(time.RFC3339))
	}
	return build(o, stderr)
}

func selectPlatforms(list string) ([]plugins.Platform, error) {
	all := plugins.Get().Platforms
	if list == "" {
		return all, nil
	}
	var out []plugins.Platform
	for _, want := range strings.Split(list, ",") {
		i := slices.IndexFunc(all, func(p plugins.Platform) bool { return p.String() == strings.TrimSpace(want) })
		if i < 0 {
			return nil, fmt.Errorf("platform %q is not in plugins.yaml", want)
		}
		out = append(out, all[i])
	}
	return out, nil
}

func build(o options, stderr io.Writer) error {
	license, err := os.ReadFile(o.license)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "traderx-dist-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	m := Manifest{Version: o.version, Commit: o.commit, Date: o.date, GoVersion: runtime.Version(),
		Archives: map[string]string{}}
	krewSums := map[string]string{}
	start := time.Now()
	for _, p := range o.platforms {
		m.Platforms = append(m.Platforms, p.String())
		t0 := time.Now()
		bin := filepath.Join(work, p.OS+"_"+p.Arch)
		if err := goBuild(o, p, bin, stderr); err != nil {
			return fmt.Errorf("build %s: %w", p, err)
		}
		files, err := archiveFiles(o.version, p, bin, license)
		if err != nil {
			return err
		}
		archive, err := tarGz(files, o.mtime)
		if err != nil {
			return err
		}
		name := plugins.Archive(o.version, p)
		sum, err := writeWithSum(o.out, name, archive)
		if err != nil {
			return err
		}
		m.Archives[name] = sum
		krewSums[p.String()] = sum
		fmt.Fprintf(stderr, "dist: %s: %s (%s)\n", p, name, time.Since(t0).Round(time.Second))
	}

	krew, err := plugins.KrewManifest(o.version, krewSums)
	if err != nil {
		return err
	}
	// validate-krew-manifest takes the plugin's name from the file name.
	if err := os.WriteFile(filepath.Join(o.out, plugins.Kubectl().Name+".yaml"), krew, 0o644); err != nil {
		return err
	}
	js, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(o.out, "dist.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "dist: %d platforms into %s in %s\n", len(o.platforms), o.out, time.Since(start).Round(time.Second))
	return nil
}

// archiveFiles are the entries of p's archive: plugins.KubectlFiles and
// plugins.CubFiles, from the binaries built into bin.
func archiveFiles(version string, p plugins.Platform, bin string, license []byte) ([]entry, error) {
	cubManifest, err := plugins.CubManifest(version, p.Exe(plugins.Cub().Binary))
	if err != nil {
		return nil, err
	}
	known := map[string]entry{
		"LICENSE":                  {"LICENSE", 0o644, license},
		plugins.CompletionScript(): {plugins.CompletionScript(), 0o755, []byte(plugins.CompletionScriptText())},
		plugins.CubManifestFile:    {plugins.CubManifestFile, 0o644, cubManifest},
	}
	var out []entry
	for _, name := range append(plugins.KubectlFiles(p), plugins.CubFiles(p)...) {
		e, ok := known[name]
		if !ok { // a binary
			data, err := os.ReadFile(filepath.Join(bin, name))
			if err != nil {
				return nil, err
			}
			e = entry{name, 0o755, data}
		}
		out = append(out, e)
	}
	return out, nil
}

// goBuild cross-builds both binaries for p into dir.
func goBuild(o options, p plugins.Platform, dir string, stderr io.Writer) error {
	ldflags := fmt.Sprintf("-s -w -X %[1]s.version=%[2]s -X %[1]s.commit=%[3]s -X %[1]s.date=%[4]s",
		cliPkg, o.version, o.commit, o.date)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", ldflags, "-o", dir+string(filepath.Separator),
		"./cmd/"+plugins.Kubectl().Binary, "./cmd/"+plugins.Cub().Binary)
	cmd.Dir = o.root
	cmd.Env = append(os.Environ(), "GOOS="+p.OS, "GOARCH="+p.Arch, "CGO_ENABLED=0",
		"GOTOOLCHAIN=local", "GOFLAGS=-buildvcs=false")
	cmd.Stdout, cmd.Stderr = stderr, stderr
	return cmd.Run()
}

type entry struct {
	name string
	mode fs.FileMode
	data []byte
}

func sorted(entries []entry) []entry {
	out := slices.Clone(entries)
	slices.SortFunc(out, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	return out
}

// tarGz packs entries as a gzipped ustar archive with fixed metadata.
func tarGz(entries []entry, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	gz, err := gzip.NewWriterLevel(&buf, gzip.DefaultCompression) // no Name, zero ModTime
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(gz)
	for _, e := range sorted(entries) {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: e.name, Mode: int64(e.mode), Size: int64(len(e.data)),
			ModTime: mtime, Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeWithSum writes name and name.sha256 into dir and returns the digest.
func writeWithSum(dir, name string, data []byte) (string, error) {
	sum := sha256.Sum256(data)
	hexSum := hex.EncodeToString(sum[:])
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		return "", err
	}
	line := fmt.Sprintf("%s  %s\n", hexSum, name)
	return hexSum, os.WriteFile(filepath.Join(dir, name+".sha256"), []byte(line), 0o644)
}
