package plugins_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/cmd/cub"
	"github.com/finos/traderx-plugins/pkg/cmd/kubectl"
	"github.com/finos/traderx-plugins/pkg/plugins"
)

func streams() (genericiooptions.IOStreams, *bytes.Buffer) {
	out := &bytes.Buffer{}
	return genericiooptions.IOStreams{In: &bytes.Buffer{}, Out: out, ErrOut: &bytes.Buffer{}}, out
}

func roots() map[string]func(genericiooptions.IOStreams) *cobra.Command {
	return map[string]func(genericiooptions.IOStreams) *cobra.Command{
		plugins.HostKubectl: kubectl.NewRootCommand,
		plugins.HostCub:     cub.NewRootCommand,
	}
}

// TestCommandTreesMatchPluginsYAML: each root's Short is plugins.yaml's
// summary, and the visible subcommands with their Shorts are exactly
// plugins.yaml's commands (cobra's own help and completion aside).
func TestCommandTreesMatchPluginsYAML(t *testing.T) {
	for host, newRoot := range roots() {
		s, _ := streams()
		root := newRoot(s)
		p := plugins.Get().Plugin(host)
		if root.Short != p.Summary {
			t.Errorf("%s: root Short %q != plugins.yaml summary %q", host, root.Short, p.Summary)
		}
		if root.Name() != p.Name {
			t.Errorf("%s: root is %q, plugins.yaml says %q", host, root.Name(), p.Name)
		}
		listed := map[string]string{}
		for _, c := range p.Commands {
			listed[c.Name] = c.Summary
		}
		for _, c := range root.Commands() {
			if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
				continue
			}
			summary, ok := listed[c.Name()]
			switch {
			case !ok:
				t.Errorf("%s traderx %s is not in plugins.yaml; add under the %s plugin's commands:\n      - name: %s\n        summary: %q",
					host, c.Name(), host, c.Name(), c.Short)
			case summary != c.Short:
				t.Errorf("%s traderx %s: Short %q != plugins.yaml summary %q", host, c.Name(), c.Short, summary)
			}
			delete(listed, c.Name())
		}
		for name := range listed {
			t.Errorf("plugins.yaml lists %s traderx %s, which the command tree lacks", host, name)
		}
	}
}

// TestHelpShowsHowUsersTypeThePlugin: usage lines read "kubectl traderx …" and
// "cub traderx …", not the binary name.
func TestHelpShowsHowUsersTypeThePlugin(t *testing.T) {
	for host, newRoot := range roots() {
		display := plugins.Get().Plugin(host).DisplayName()
		for _, args := range [][]string{{"--help"}, {"version", "--help"}} {
			s, out := streams()
			if code := cli.Execute(newRoot(s), args, s.ErrOut); code != 0 {
				t.Fatalf("%s %v: exit %d", host, args, code)
			}
			usage := display + " [command]"
			if len(args) > 1 {
				usage = fmt.Sprintf("%s %s [flags]", display, args[0])
			}
			if !strings.Contains(out.String(), "\nUsage:\n  "+usage+"\n") {
				t.Errorf("%s %v does not show %q:\n%s", host, args, usage, out)
			}
			if args[0] == "--help" && !strings.Contains(out.String(), fmt.Sprintf("Use %q for more", display+" [command] --help")) {
				t.Errorf("%s --help does not point to %q:\n%s", host, display+" [command] --help", out)
			}
		}
	}
}
