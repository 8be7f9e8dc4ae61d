// Package dist tests the release archives of `make dist` (the tests carry
// the build tag dist; run them through `make dist-test`). This file, built
// without the tag, is the model of how cub picks an archive from a release.
package dist

import (
	"fmt"
	"strings"
)

// cubSkipped are the suffixes of assets cub never downloads (checksums,
// signatures).
var cubSkipped = []string{".sha256", ".sha512", ".sig", ".asc", ".sbom", ".pem"}

// cubAliases are the other spellings cub accepts for a GOOS or GOARCH in an
// asset name; a value not listed matches only itself.
var cubAliases = map[string][]string{
	"darwin": {"darwin", "macos"},
	"linux":  {"linux"},
	"amd64":  {"amd64", "x86_64", "x86-64"},
	"arm64":  {"arm64", "aarch64"},
	"386":    {"386", "i386", "i686"},
}

// CubCandidates are the assets of a release, in the release's order, that
// `cub plugin install <owner/repo>` considers for goos/goarch: names that are
// not checksums or signatures and that contain, case-insensitively and as
// plain substrings, a spelling of the OS and one of the architecture.
// Modelled on newer cub (confighub/sdk cmd/cub/plugin_install.go, matchAsset).
func CubCandidates(assets []string, goos, goarch string) []string {
	var out []string
	for _, a := range assets {
		lower := strings.ToLower(a)
		if hasAnySuffix(lower, cubSkipped) {
			continue
		}
		if containsAny(lower, spellings(goos)) && containsAny(lower, spellings(goarch)) {
			out = append(out, a)
		}
	}
	return out
}

// CubSelect is the asset cub downloads: the first candidate ending in
// .tar.gz or .tgz (unpacked as a plugin directory), else the first
// candidate (saved as a bare binary). GitHub does not document the order of
// a release's assets, so callers should try more than one.
func CubSelect(assets []string, goos, goarch string) (string, error) {
	candidates := CubCandidates(assets, goos, goarch)
	if len(candidates) == 0 {
		return "", fmt.Errorf("no release asset found for %s/%s", goos, goarch)
	}
	for _, c := range candidates {
		if hasAnySuffix(strings.ToLower(c), []string{".tar.gz", ".tgz"}) {
			return c, nil
		}
	}
	return candidates[0], nil
}

func spellings(v string) []string {
	if s, ok := cubAliases[v]; ok {
		return s
	}
	return []string{v}
}

func hasAnySuffix(s string, suffixes []string) bool {
	for _, x := range suffixes {
		if strings.HasSuffix(s, x) {
			return true
		}
	}
	return false
}

func containsAny(s string, subs []string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}
