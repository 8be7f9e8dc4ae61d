// Command gendocs writes the command reference of both plugins as markdown
// (one file per command, named after the command path, e.g.
// kubectl_traderx_health.md) into a directory: `make docs` runs it into
// docs/commands, and its test fails when that directory is stale.
package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/finos/traderx-plugins/pkg/cmd/cub"
	"github.com/finos/traderx-plugins/pkg/cmd/kubectl"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gendocs DIR")
		os.Exit(2)
	}
	if err := generate(os.Args[1]); err != nil {
		fmt.Fprintf(os.Stderr, "gendocs: %v\n", err)
		os.Exit(1)
	}
}

// generated reports whether a file name is one gendocs writes.
func generated(name string) bool {
	return strings.HasSuffix(name, ".md") &&
		(strings.HasPrefix(name, "kubectl_traderx") || strings.HasPrefix(name, "cub_traderx"))
}

// generate replaces the generated files in dir with the current reference.
func generate(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range old {
		if generated(e.Name()) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	streams := genericiooptions.IOStreams{In: &bytes.Buffer{}, Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}
	home, _ := os.UserHomeDir()
	for _, root := range []*cobra.Command{kubectl.NewRootCommand(streams), cub.NewRootCommand(streams)} {
		// cobra adds the completion command when it executes; the reference shows it too.
		root.InitDefaultCompletionCmd()
		root.DisableAutoGenTag = true // no generation date: the output is a function of the code
		stableDefaults(root, home)
		if err := doc.GenMarkdownTree(root, dir); err != nil {
			return err
		}
	}
	return nil
}

// stableDefaults replaces the user's home directory in flag defaults (kubectl's
// --cache-dir) with $HOME, so the reference does not depend on who runs it.
func stableDefaults(cmd *cobra.Command, home string) {
	fix := func(f *pflag.Flag) {
		if home != "" && home != "/" && strings.Contains(f.DefValue, home) {
			f.DefValue = strings.ReplaceAll(f.DefValue, home, "$HOME")
		}
	}
	cmd.Flags().VisitAll(fix)
	cmd.PersistentFlags().VisitAll(fix)
	for _, c := range cmd.Commands() {
		stableDefaults(c, home)
	}
}
