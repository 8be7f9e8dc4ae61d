package cli

import (
	"fmt"
	"io"
	"runtime"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// Build information, set by the linker (see the Makefile's LDFLAGS).
var (
	version = "dev"
	commit  = "unknown"
	date    = "unknown"
)

// BuildInfo describes the running binary.
type BuildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Build returns the running binary's build information.
func Build() BuildInfo {
	return BuildInfo{Version: version, Commit: commit, Date: date, GoVersion: runtime.Version(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH}
}

// WriteVersion prints build information in a format: text, json or yaml.
func WriteVersion(w io.Writer, name, format string, b BuildInfo) error {
	if done, err := WriteData(w, format, b); done {
		return err
	}
	_, err := fmt.Fprintf(w, "%s %s (commit %s, built %s, %s, %s)\n", name, b.Version, b.Commit, b.Date, b.GoVersion, b.Platform)
	return err
}

// NewVersionCommand returns the version command of a plugin.
func NewVersionCommand(name string, streams genericiooptions.IOStreams) *cobra.Command {
	out := NewOutputFlag("text", "text", "json", "yaml")
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version of " + name,
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := out.Validate(); err != nil {
				return err
			}
			return WriteVersion(streams.Out, name, out.Value, Build())
		},
	}
	out.AddTo(cmd)
	return cmd
}
