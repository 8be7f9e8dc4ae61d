package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestCommandReferenceUpToDate regenerates the reference and compares it with
// docs/commands: a command, flag or help text changed without `make docs`
// fails here.
func TestCommandReferenceUpToDate(t *testing.T) {
	const committed = "../../docs/commands"
	fresh := t.TempDir()
	if err := generate(fresh); err != nil {
		t.Fatal(err)
	}
	want, got := files(t, fresh), files(t, committed)
	if !slices.Equal(want, got) {
		t.Fatalf("docs/commands is stale (run `make docs`):\n  generated: %v\n  committed: %v", want, got)
	}
	for _, name := range want {
		a, _ := os.ReadFile(filepath.Join(fresh, name))
		b, _ := os.ReadFile(filepath.Join(committed, name))
		if string(a) != string(b) {
			t.Errorf("docs/commands/%s is stale (run `make docs`)", name)
		}
	}
}

func files(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if generated(e.Name()) {
			names = append(names, e.Name())
		}
	}
	return names
}
