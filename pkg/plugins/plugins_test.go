package plugins

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"
)

func TestEmbeddedCatalogParses(t *testing.T) {
	c := Get()
	if k, cub := Kubectl(), Cub(); k.Binary != "kubectl-traderx" || cub.Binary != "cub-traderx" || k.Name != "traderx" || cub.Name != "traderx" {
		t.Fatalf("plugins: %+v / %+v", k, cub)
	}
	var got []string
	for _, p := range c.Platforms {
		got = append(got, p.String())
	}
	want := []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64", "windows/amd64", "windows/arm64"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("platforms (-want +got):\n%s", diff)
	}
}

func TestParseRejectsIncompleteFiles(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown key": "homepage: x\nlicense: y\nversion: v1\nplatforms: [{os: linux, arch: amd64}]\nplugins: []\nextra: 1\n",
		"no plugins":  "homepage: x\nlicense: y\nversion: v1\nplatforms: [{os: linux, arch: amd64}]\n",
		"two-line summary": "homepage: x\nlicense: y\nversion: v1\nplatforms: [{os: linux, arch: amd64}]\nplugins:\n" +
			"- {name: a, host: kubectl, binary: b, summary: \"x\\ny\", description: d}\n" +
			"- {name: a, host: cub, binary: c, summary: s, description: d}\n",
	} {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%s: parsed without error", name)
		}
	}
}

func TestCubManifest(t *testing.T) {
	b, err := CubManifest("v1.2.3", "cub-traderx.exe")
	if err != nil {
		t.Fatal(err)
	}
	var m CubPluginManifest
	if err := yaml.UnmarshalStrict(b, &m); err != nil {
		t.Fatal(err)
	}
	want := CubPluginManifest{Name: "traderx", Version: "v1.2.3", Commands: []CubCommand{{
		Name: "traderx", Summary: Cub().Summary, Entrypoint: "cub-traderx.exe"}}}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("cub-plugin.yaml (-want +got):\n%s", diff)
	}
	if _, err := CubManifest("v1", ""); err == nil {
		t.Error("an empty entrypoint was accepted")
	}
}

// krewPlugin is the part of krew's Plugin type the tests read.
type krewPlugin struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Version          string `json:"version"`
		Homepage         string `json:"homepage"`
		ShortDescription string `json:"shortDescription"`
		Description      string `json:"description"`
		Caveats          string `json:"caveats"`
		Platforms        []struct {
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
			URI    string `json:"uri"`
			Sha256 string `json:"sha256"`
			Bin    string `json:"bin"`
			Files  []struct {
				From string `json:"from"`
				To   string `json:"to"`
			} `json:"files"`
		} `json:"platforms"`
	} `json:"spec"`
}

func TestKrewManifestComesFromPluginsYAML(t *testing.T) {
	sums := map[string]string{}
	for i, p := range Get().Platforms {
		sums[p.String()] = strings.Repeat(string(rune('a'+i)), 64)
	}
	b, err := KrewManifest("v1.2.3", sums)
	if err != nil {
		t.Fatal(err)
	}
	var m krewPlugin
	if err := yaml.UnmarshalStrict(b, &m); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	k := Kubectl()
	if m.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" || m.Kind != "Plugin" || m.Metadata.Name != k.Name {
		t.Errorf("header: %s %s %s", m.APIVersion, m.Kind, m.Metadata.Name)
	}
	if m.Spec.ShortDescription != k.Summary {
		t.Errorf("shortDescription %q drifted from plugins.yaml's summary %q", m.Spec.ShortDescription, k.Summary)
	}
	if !strings.HasPrefix(m.Spec.Description, strings.TrimSpace(k.Description)) {
		t.Errorf("description does not start with plugins.yaml's:\n%s", m.Spec.Description)
	}
	for _, c := range k.Commands {
		if !strings.Contains(m.Spec.Description, c.Summary) {
			t.Errorf("description lacks command %s", c.Name)
		}
	}
	if m.Spec.Version != "v1.2.3" || m.Spec.Homepage != Get().Homepage {
		t.Errorf("version %q, homepage %q", m.Spec.Version, m.Spec.Homepage)
	}
	if len(m.Spec.Platforms) != len(Get().Platforms) {
		t.Fatalf("%d platforms, want %d", len(m.Spec.Platforms), len(Get().Platforms))
	}
	for i, p := range Get().Platforms {
		got := m.Spec.Platforms[i]
		if got.Selector.MatchLabels["os"] != p.OS || got.Selector.MatchLabels["arch"] != p.Arch || len(got.Selector.MatchLabels) != 2 {
			t.Errorf("platform %d selector %v, want %s", i, got.Selector.MatchLabels, p)
		}
		if got.Sha256 != sums[p.String()] || got.Bin != p.Exe("kubectl-traderx") ||
			got.URI != Get().Homepage+"/releases/download/v1.2.3/"+Archive("v1.2.3", p) {
			t.Errorf("platform %s: %+v", p, got)
		}
		var from []string
		for _, f := range got.Files {
			if f.To != "." {
				t.Errorf("platform %s: file %s goes to %q, want the plugin directory", p, f.From, f.To)
			}
			from = append(from, f.From)
		}
		if !cmp.Equal(from, KubectlFiles(p)) {
			t.Errorf("platform %s: krew copies %v, want only the kubectl plugin's files %v", p, from, KubectlFiles(p))
		}
	}
}

func TestKrewManifestWantsSemver(t *testing.T) {
	for _, v := range []string{"1.2.3", "abc1234-dirty", "v1.2"} {
		if _, err := KrewManifest(v, map[string]string{"linux/amd64": strings.Repeat("a", 64)}); err == nil {
			t.Errorf("version %q accepted", v)
		}
	}
}

func TestArchiveNames(t *testing.T) {
	for _, tc := range []struct {
		p            Platform
		archive      string
		kubectl, cub []string
	}{
		{Platform{"linux", "amd64"}, "traderx-plugins_v1.0.0_linux_amd64.tar.gz",
			[]string{"kubectl-traderx", "LICENSE", "kubectl_complete-traderx"}, []string{"cub-plugin.yaml", "cub-traderx"}},
		{Platform{"windows", "arm64"}, "traderx-plugins_v1.0.0_windows_arm64.tar.gz",
			[]string{"kubectl-traderx.exe", "LICENSE"}, []string{"cub-plugin.yaml", "cub-traderx.exe"}},
	} {
		if got := Archive("v1.0.0", tc.p); got != tc.archive {
			t.Errorf("Archive(%s) = %s, want %s", tc.p, got, tc.archive)
		}
		if got := KubectlFiles(tc.p); !cmp.Equal(got, tc.kubectl) {
			t.Errorf("KubectlFiles(%s) = %v, want %v", tc.p, got, tc.kubectl)
		}
		if got := CubFiles(tc.p); !cmp.Equal(got, tc.cub) {
			t.Errorf("CubFiles(%s) = %v, want %v", tc.p, got, tc.cub)
		}
	}
}

func TestRepository(t *testing.T) {
	if got := Get().Repository(); got != "finos/traderx-plugins" {
		t.Errorf("Repository() = %q", got)
	}
	plugins := "plugins:\n- {name: a, host: kubectl, binary: b, summary: s, description: d}\n- {name: a, host: cub, binary: c, summary: s, description: d}\n"
	for _, home := range []string{"https://example.com/finos/x", "https://github.com/finos", "https://github.com/a/b/c"} {
		doc := "homepage: " + home + "\nlicense: y\nversion: v1\nplatforms: [{os: linux, arch: amd64}]\n" + plugins
		if _, err := Parse([]byte(doc)); err == nil || !strings.Contains(err.Error(), "owner/name") {
			t.Errorf("homepage %s: %v", home, err)
		}
	}
}
