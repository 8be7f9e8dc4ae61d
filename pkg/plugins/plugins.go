// Package plugins is the description of both TraderX plugins, parsed from the
// repository's plugins.yaml, and everything rendered from it: the roots'
// one-line summaries, cub-plugin.yaml, the krew manifest and the names of the
// release archives.
package plugins

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"strings"
	"sync"
	"text/template"

	"sigs.k8s.io/yaml"

	traderxplugins "github.com/finos/traderx-plugins"
)

// Hosts a plugin runs under.
const (
	HostKubectl = "kubectl"
	HostCub     = "cub"
)

// Catalog is plugins.yaml.
type Catalog struct {
	Homepage string `json:"homepage"`
	License  string `json:"license"`
	// Version is the placeholder an unreleased build reports; builds fill in
	// the real one.
	Version   string     `json:"version"`
	Platforms []Platform `json:"platforms"`
	Plugins   []Plugin   `json:"plugins"`
}

// Platform is one target of the release builds.
type Platform struct {
	OS   string `json:"os"`
	Arch string `json:"arch"`
}

func (p Platform) String() string { return p.OS + "/" + p.Arch }

// Exe is the file name of binary on this platform (".exe" on Windows).
func (p Platform) Exe(binary string) string {
	if p.OS == "windows" {
		return binary + ".exe"
	}
	return binary
}

// Plugin is one of the two plugins.
type Plugin struct {
	// Name is the token typed after the host: kubectl traderx, cub traderx.
	Name string `json:"name"`
	Host string `json:"host"`
	// Binary is the executable's name (without .exe).
	Binary      string    `json:"binary"`
	Summary     string    `json:"summary"`
	Description string    `json:"description"`
	Commands    []Command `json:"commands"`
}

// Command is a subcommand and its one-line summary (its cobra Short).
type Command struct {
	Name    string `json:"name"`
	Summary string `json:"summary"`
}

// DisplayName is how users type the plugin: "kubectl traderx".
func (p Plugin) DisplayName() string { return p.Host + " " + p.Name }

// Parse reads a plugins.yaml and checks that it is complete.
func Parse(data []byte) (Catalog, error) {
	var c Catalog
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return Catalog{}, fmt.Errorf("plugins.yaml: %w", err)
	}
	return c, c.validate()
}

func (c Catalog) validate() error {
	var problems []string
	if c.Homepage == "" || c.License == "" || c.Version == "" {
		problems = append(problems, "homepage, license and version are required")
	}
	if repo := strings.TrimPrefix(c.Homepage, githubPrefix); repo == c.Homepage || strings.Count(repo, "/") != 1 {
		problems = append(problems, fmt.Sprintf("homepage %q is not %sowner/name (cub installs from GitHub releases)", c.Homepage, githubPrefix))
	}
	if len(c.Platforms) == 0 {
		problems = append(problems, "no platforms")
	}
	seen := map[string]bool{}
	for _, p := range c.Platforms {
		if p.OS == "" || p.Arch == "" || seen[p.String()] {
			problems = append(problems, fmt.Sprintf("platform %q is incomplete or repeated", p))
		}
		seen[p.String()] = true
	}
	for _, host := range []string{HostKubectl, HostCub} {
		n := 0
		for _, p := range c.Plugins {
			if p.Host == host {
				n++
			}
		}
		if n != 1 {
			problems = append(problems, fmt.Sprintf("want exactly one %s plugin, have %d", host, n))
		}
	}
	for _, p := range c.Plugins {
		if p.Name == "" || p.Binary == "" || p.Summary == "" || p.Description == "" {
			problems = append(problems, fmt.Sprintf("%s plugin: name, binary, summary and description are required", p.Host))
		}
		if strings.ContainsAny(p.Summary, "\r\n") {
			problems = append(problems, fmt.Sprintf("%s plugin: the summary must be one line", p.Host))
		}
		for _, cmd := range p.Commands {
			if cmd.Name == "" || cmd.Summary == "" {
				problems = append(problems, fmt.Sprintf("%s plugin: a command without name or summary", p.Host))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("plugins.yaml: %s", strings.Join(problems, "; "))
	}
	return nil
}

// Plugin returns the plugin that runs under host.
func (c Catalog) Plugin(host string) Plugin {
	for _, p := range c.Plugins {
		if p.Host == host {
			return p
		}
	}
	return Plugin{}
}

var embedded = sync.OnceValues(func() (Catalog, error) {
	return Parse([]byte(traderxplugins.PluginsYAML()))
})

// Get returns the embedded plugins.yaml. It panics if the file is malformed:
// that is a build defect, caught by this package's tests.
func Get() Catalog {
	c, err := embedded()
	if err != nil {
		panic(err)
	}
	return c
}

// Kubectl is the kubectl plugin's description.
func Kubectl() Plugin { return Get().Plugin(HostKubectl) }

// Cub is the cub plugin's description.
func Cub() Plugin { return Get().Plugin(HostCub) }

// Repository is the project's GitHub owner/name, taken from the homepage:
// the source `cub plugin install` is given.
func (c Catalog) Repository() string {
	return strings.TrimPrefix(c.Homepage, githubPrefix)
}

const githubPrefix = "https://github.com/"

// Archive is the name of the release archive of a platform. There is one
// per platform and it holds both plugins (KubectlFiles and CubFiles),
// because `cub plugin install <owner/repo>` takes the first .tar.gz of the
// release whose name contains the OS and the architecture: every archive it
// can pick must be a whole cub plugin. krew installs from the same archive
// only the files its manifest names. A gzipped tar on every platform: cub
// unpacks nothing else, and krew unpacks it on Windows too.
func Archive(version string, p Platform) string {
	return fmt.Sprintf("%s_%s_%s_%s.tar.gz", path.Base(Get().Homepage), version, p.OS, p.Arch)
}

// CubManifestFile is the manifest cub reads at the top of a plugin directory.
const CubManifestFile = "cub-plugin.yaml"

// KubectlFiles are the files of an archive that krew installs for p: the
// binary, LICENSE and, except on Windows, the completion helper.
func KubectlFiles(p Platform) []string {
	files := []string{p.Exe(Kubectl().Binary), "LICENSE"}
	if p.OS != "windows" {
		files = append(files, CompletionScript())
	}
	return files
}

// CubFiles are the files of an archive that cub uses: the manifest and the
// entrypoint it names.
func CubFiles(p Platform) []string {
	return []string{CubManifestFile, p.Exe(Cub().Binary)}
}

// CompletionScript is the name of the script kubectl (1.26 and later) runs
// from PATH to complete `kubectl traderx …`.
func CompletionScript() string { return "kubectl_complete-" + Kubectl().Name }

// CompletionScriptText is that script: it asks the plugin itself.
func CompletionScriptText() string {
	return fmt.Sprintf(`#!/usr/bin/env sh
# kubectl (1.26 and later) runs this to complete 'kubectl %s ...'.
exec %s __complete "$@"
`, Kubectl().Name, Kubectl().Binary)
}

// CubPluginManifest is cub-plugin.yaml (shared/confighub-api.md §2).
type CubPluginManifest struct {
	Name     string       `json:"name"`
	Version  string       `json:"version"`
	Commands []CubCommand `json:"commands"`
}

// CubCommand is one command of cub-plugin.yaml.
type CubCommand struct {
	Name       string   `json:"name"`
	Aliases    []string `json:"aliases,omitempty"`
	Summary    string   `json:"summary"`
	Entrypoint string   `json:"entrypoint"`
	Args       []string `json:"args,omitempty"`
}

// CubManifest renders cub-plugin.yaml: one command, `cub traderx`, running
// entrypoint (the binary's file name inside the plugin directory).
func CubManifest(version, entrypoint string) ([]byte, error) {
	if version == "" || entrypoint == "" {
		return nil, fmt.Errorf("cub manifest: version and entrypoint are required")
	}
	p := Cub()
	return yaml.Marshal(CubPluginManifest{Name: p.Name, Version: version, Commands: []CubCommand{{
		Name: p.Name, Summary: p.Summary, Entrypoint: entrypoint,
	}}})
}

// KrewPlatform is one platform of the krew manifest with its archive's digest.
type KrewPlatform struct {
	Platform
	Archive string
	Sha256  string
	Bin     string
	// Files are what krew copies out of the archive (KubectlFiles).
	Files []string
}

var krewVersion = regexp.MustCompile(`^v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$`)

// KrewManifest renders krew/traderx.krew.yaml.tmpl for version, with the
// sha256 of each platform's archive (keyed by "os/arch"). krew wants a
// semantic version with a leading v.
func KrewManifest(version string, sha256 map[string]string) ([]byte, error) {
	if !krewVersion.MatchString(version) {
		return nil, fmt.Errorf("krew manifest: version %q is not a semantic version like v1.2.3", version)
	}
	c, p := Get(), Kubectl()
	data := struct {
		Name, Version, Homepage, ShortDescription, Description string
		Platforms                                              []KrewPlatform
	}{Name: p.Name, Version: version, Homepage: c.Homepage, ShortDescription: p.Summary, Description: krewDescription(p)}
	for _, pl := range c.Platforms {
		sum, ok := sha256[pl.String()]
		if !ok {
			continue
		}
		data.Platforms = append(data.Platforms, KrewPlatform{Platform: pl, Archive: Archive(version, pl),
			Sha256: sum, Bin: pl.Exe(p.Binary), Files: KubectlFiles(pl)})
	}
	if len(data.Platforms) == 0 {
		return nil, fmt.Errorf("krew manifest: no archive digests")
	}
	t, err := template.New("krew").Option("missingkey=error").Funcs(template.FuncMap{
		"quote": func(s string) (string, error) {
			b, err := json.Marshal(s)
			return string(b), err
		},
		"indent": func(n int, s string) string {
			pad := strings.Repeat(" ", n)
			lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
			for i, l := range lines {
				if l != "" {
					lines[i] = pad + l
				}
			}
			return strings.Join(lines, "\n")
		},
	}).Parse(traderxplugins.KrewTemplate())
	if err != nil {
		return nil, fmt.Errorf("krew template: %w", err)
	}
	var out bytes.Buffer
	if err := t.Execute(&out, data); err != nil {
		return nil, fmt.Errorf("krew template: %w", err)
	}
	return out.Bytes(), nil
}

// krewDescription is the plugin's description followed by its commands.
func krewDescription(p Plugin) string {
	var b strings.Builder
	b.WriteString(strings.TrimRight(p.Description, "\n"))
	b.WriteString("\n\nCommands:\n")
	width := 0
	for _, c := range p.Commands {
		width = max(width, len(c.Name))
	}
	for _, c := range p.Commands {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, c.Name, c.Summary)
	}
	return b.String()
}
