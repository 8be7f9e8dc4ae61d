package envcluster

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"sigs.k8s.io/yaml"
)

// File is the user's mapping of environments to kube contexts, kept in
// DefaultPath. It lives with the user, not in ConfigHub, because context names
// are the user's own: the same cluster has another name in each kubeconfig.
type File struct {
	// Contexts maps an environment name to a kube context name.
	Contexts map[string]string `json:"contexts"`
}

// DefaultPath is $XDG_CONFIG_HOME/traderx/clusters.yaml, else
// ~/.config/traderx/clusters.yaml (the XDG base directory rules: a relative
// $XDG_CONFIG_HOME is ignored).
func DefaultPath(getenv func(string) string, home string) string {
	if d := getenv("XDG_CONFIG_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "traderx", "clusters.yaml")
	}
	return filepath.Join(home, ".config", "traderx", "clusters.yaml")
}

// Load reads the mapping file; a missing file is an empty mapping.
func Load(path string) (*File, error) {
	f := &File{Contexts: map[string]string{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the cluster mapping %s: %w", path, err)
	}
	if err := yaml.UnmarshalStrict(data, f); err != nil {
		return nil, fmt.Errorf("the cluster mapping %s is not valid (want `contexts: {<env>: <kube context>}`; fix or remove it): %w", path, err)
	}
	if f.Contexts == nil {
		f.Contexts = map[string]string{}
	}
	return f, nil
}

// Save writes the mapping file (directory 0700, file 0600) through a rename,
// so a reader never sees half a file.
func (f *File) Save(path string) error {
	data, err := yaml.Marshal(f)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("save the cluster mapping: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".clusters-*.yaml")
	if err != nil {
		return fmt.Errorf("save the cluster mapping: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing left to remove
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("save the cluster mapping %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save the cluster mapping %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save the cluster mapping %s: %w", path, err)
	}
	return nil
}

// Envs are the mapped environments, sorted.
func (f *File) Envs() []string { return slices.Sorted(maps.Keys(f.Contexts)) }
