package dist

import (
	"slices"
	"testing"

	"github.com/finos/traderx-plugins/pkg/plugins"
)

func TestCubSelectModel(t *testing.T) {
	cases := []struct {
		name       string
		assets     []string
		os, arch   string
		want       string
		candidates int
	}{
		{"checksums are skipped", []string{"p-linux-amd64.tar.gz.sha256", "p-linux-amd64.tar.gz"}, "linux", "amd64", "p-linux-amd64.tar.gz", 1},
		{"other spellings", []string{"p_Linux_x86_64.tgz"}, "linux", "amd64", "p_Linux_x86_64.tgz", 1},
		{"macos is darwin", []string{"p-macos-aarch64.tar.gz"}, "darwin", "arm64", "p-macos-aarch64.tar.gz", 1},
		{"a tarball beats an earlier binary", []string{"p-linux-amd64", "p-linux-amd64.tar.gz"}, "linux", "amd64", "p-linux-amd64.tar.gz", 2},
		{"without a tarball, the first match", []string{"p-linux-amd64.zip", "p-linux-amd64"}, "linux", "amd64", "p-linux-amd64.zip", 2},
		{"the first of two tarballs", []string{"b-linux-amd64.tar.gz", "a-linux-amd64.tar.gz"}, "linux", "amd64", "b-linux-amd64.tar.gz", 2},
		{"the other architecture does not match", []string{"p-linux-arm64.tar.gz"}, "linux", "amd64", "", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CubSelect(tc.assets, tc.os, tc.arch)
			if got != tc.want || (err != nil) != (tc.want == "") {
				t.Errorf("CubSelect = %q, %v; want %q", got, err, tc.want)
			}
			if n := len(CubCandidates(tc.assets, tc.os, tc.arch)); n != tc.candidates {
				t.Errorf("%d candidates, want %d", n, tc.candidates)
			}
		})
	}
}

// releaseAssets are the names a release of version carries: the archives,
// their .sha256 files and the krew manifest, in alphabetical order.
func releaseAssets(version string) []string {
	assets := []string{plugins.Kubectl().Name + ".yaml"}
	for _, p := range plugins.Get().Platforms {
		assets = append(assets, plugins.Archive(version, p), plugins.Archive(version, p)+".sha256")
	}
	slices.Sort(assets)
	return assets
}

// Every platform's only candidate is its own archive, so the asset order
// cub sees cannot matter. (make dist-test checks the same on the built
// release and installs what is picked.)
func TestEveryPlatformHasOneCandidate(t *testing.T) {
	for _, version := range []string{"v1.2.3", "v0.0.0-gabc1234.dirty"} {
		assets := releaseAssets(version)
		for _, p := range plugins.Get().Platforms {
			want := []string{plugins.Archive(version, p)}
			if got := CubCandidates(assets, p.OS, p.Arch); !slices.Equal(got, want) {
				t.Errorf("%s %s: cub considers %v, want only %v", version, p, got, want)
			}
		}
	}
}
