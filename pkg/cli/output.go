package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"
	"golang.org/x/term"
	"sigs.k8s.io/yaml"

	"github.com/finos/traderx-plugins/pkg/check"
)

// OutputFlag is an -o/--output flag restricted to a set of formats.
type OutputFlag struct {
	Value   string
	Allowed []string
}

// NewOutputFlag returns an output flag with a default and the allowed values.
func NewOutputFlag(def string, allowed ...string) *OutputFlag {
	return &OutputFlag{Value: def, Allowed: allowed}
}

// AddTo registers -o/--output with completion of the allowed values.
func (o *OutputFlag) AddTo(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&o.Value, "output", "o", o.Value, "Output format: "+strings.Join(o.Allowed, "|"))
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(o.Allowed, cobra.ShellCompDirectiveNoFileComp))
}

// Validate reports a bad value as a usage error.
func (o *OutputFlag) Validate() error {
	if !slices.Contains(o.Allowed, o.Value) {
		return Usagef("invalid output format %q (valid: %s)", o.Value, strings.Join(o.Allowed, ", "))
	}
	return nil
}

// ColorFlag is --color auto|always|never.
type ColorFlag struct{ Value string }

// AddTo registers --color.
func (c *ColorFlag) AddTo(cmd *cobra.Command) {
	if c.Value == "" {
		c.Value = "auto"
	}
	cmd.PersistentFlags().StringVar(&c.Value, "color", c.Value, "Colour output: auto|always|never (auto honours NO_COLOR and terminals)")
	_ = cmd.RegisterFlagCompletionFunc("color", cobra.FixedCompletions([]string{"auto", "always", "never"}, cobra.ShellCompDirectiveNoFileComp))
}

// Validate reports a bad value as a usage error.
func (c *ColorFlag) Validate() error {
	switch c.Value {
	case "auto", "always", "never":
		return nil
	}
	return Usagef("invalid --color %q (valid: auto, always, never)", c.Value)
}

// Enabled decides whether to colour output written to w. NO_COLOR (any
// non-empty value, see no-color.org) turns colour off in auto mode only, so
// --color always still wins.
func (c *ColorFlag) Enabled(w io.Writer, getenv func(string) string) bool {
	switch c.Value {
	case "always":
		return true
	case "never":
		return false
	}
	if getenv("NO_COLOR") != "" || getenv("TERM") == "dumb" {
		return false
	}
	return IsTerminal(w)
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}

// Width is the screen width tables written to w fit: $COLUMNS when set (so
// a script or a test can force it), else the terminal's, else
// check.DefaultWidth.
func Width(w any, getenv func(string) string) int {
	if n, err := strconv.Atoi(getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	if f, ok := w.(*os.File); ok && IsTerminal(f) {
		if n, _, err := term.GetSize(int(f.Fd())); err == nil && n > 0 {
			return n
		}
	}
	return check.DefaultWidth
}

// Fprintln writes a message line; commands use it for stderr progress.
func Fprintln(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, format+"\n", args...)
}

// WriteData writes v as indented JSON or YAML when format asks for one and
// reports whether it did; other formats are the caller's (tables, text).
func WriteData(w io.Writer, format string, v any) (bool, error) {
	switch format {
	case "json":
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return true, err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return true, err
	case "yaml":
		b, err := yaml.Marshal(v)
		if err != nil {
			return true, err
		}
		_, err = w.Write(b)
		return true, err
	}
	return false, nil
}
