// Package hinttest checks a suggested command line against the plugins'
// real cobra trees; tests of pkg/hint and the end-to-end tests (which parse
// the resume lines the binaries print) share it. It lives apart from
// pkg/hint because it imports the command trees that import pkg/hint.
package hinttest

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/finos/traderx-plugins/pkg/cmd/cub"
	"github.com/finos/traderx-plugins/pkg/cmd/kubectl"
	"github.com/finos/traderx-plugins/pkg/hint"
)

// Parse runs a suggested command's argument parsing through the plugin's
// real cobra tree without running it: the subcommand must exist, every flag
// must be one it takes, the argument count must fit, and every argument and
// flag value the command completes from a fixed list (environments,
// services) must be on that list — which is what catches a wrong order.
func Parse(line string) error {
	var newRoot func(genericiooptions.IOStreams) *cobra.Command
	var rest string
	switch {
	case strings.HasPrefix(line, hint.Cub+" "):
		newRoot, rest = cub.NewRootCommand, strings.TrimPrefix(line, hint.Cub+" ")
	case strings.HasPrefix(line, hint.Kubectl+" "):
		newRoot, rest = kubectl.NewRootCommand, strings.TrimPrefix(line, hint.Kubectl+" ")
	default:
		return fmt.Errorf("not a command of either plugin")
	}
	root := newRoot(genericiooptions.IOStreams{In: &bytes.Buffer{}, Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}})
	cmd, args, err := root.Find(strings.Fields(rest))
	if err != nil {
		return err
	}
	if cmd == root {
		return fmt.Errorf("no subcommand %q", rest)
	}
	if err := cmd.ParseFlags(args); err != nil {
		return err
	}
	pos := cmd.Flags().Args()
	if err := cmd.ValidateArgs(pos); err != nil {
		return err
	}
	if err := cmd.ValidateRequiredFlags(); err != nil {
		return err
	}
	if err := cmd.ValidateFlagGroups(); err != nil {
		return err
	}
	if cmd.ValidArgsFunction != nil {
		for i, a := range pos {
			if err := oneOf(a, cmd, pos[:i], cmd.ValidArgsFunction); err != nil {
				return fmt.Errorf("argument %d: %w", i+1, err)
			}
		}
	}
	var ferr error
	cmd.Flags().Visit(func(f *pflag.Flag) {
		complete, ok := cmd.GetFlagCompletionFunc(f.Name)
		if !ok || ferr != nil {
			return
		}
		for _, v := range strings.Split(f.Value.String(), ",") {
			if err := oneOf(strings.Trim(v, "[]"), cmd, pos, complete); err != nil {
				ferr = fmt.Errorf("--%s: %w", f.Name, err)
			}
		}
	})
	return ferr
}

// oneOf checks a value against the fixed list the command completes at that
// place; a place completed freely (a version, a tag) takes anything.
func oneOf(v string, cmd *cobra.Command, before []string,
	complete func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective)) error {
	if strings.HasPrefix(v, "<") {
		return nil // a placeholder the user fills in
	}
	valid, _ := complete(cmd, before, "")
	if len(valid) == 0 || slices.Contains(valid, v) {
		return nil
	}
	return fmt.Errorf("%q is not one of %s", v, strings.Join(valid, ", "))
}
