package envcluster

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultPath(t *testing.T) {
	for _, tc := range []struct{ xdg, want string }{
		{"/xdg", "/xdg/traderx/clusters.yaml"},
		{"relative", "/home/u/.config/traderx/clusters.yaml"},
		{"", "/home/u/.config/traderx/clusters.yaml"},
	} {
		got := DefaultPath(func(k string) string {
			if k == "XDG_CONFIG_HOME" {
				return tc.xdg
			}
			return ""
		}, "/home/u")
		if got != tc.want {
			t.Errorf("XDG_CONFIG_HOME=%q: %s, want %s", tc.xdg, got, tc.want)
		}
	}
}

func TestFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cfg", "traderx", "clusters.yaml")
	f, err := Load(path)
	if err != nil || len(f.Contexts) != 0 {
		t.Fatalf("a missing file: %+v, %v; want an empty mapping", f, err)
	}
	f.Contexts["prod"] = "prod-eu"
	f.Contexts["dev"] = "kind-dev"
	if err := f.Save(path); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("saved file: %v, %v; want mode 0600", info, err)
	}
	back, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(back.Envs(), ","); got != "dev,prod" || back.Contexts["prod"] != "prod-eu" {
		t.Errorf("read back %v", back.Contexts)
	}
}

func TestLoadRejectsABadFile(t *testing.T) {
	for name, content := range map[string]string{
		"unknown field": "context:\n  prod: x\n",
		"not a map":     "contexts: [prod]\n",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "clusters.yaml")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path+" is not valid") {
				t.Errorf("error %v, want one naming the file", err)
			}
		})
	}
}
