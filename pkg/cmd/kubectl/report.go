package kubectl

import (
	"os"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// ReportFlags are the output flags every checking command shares.
type ReportFlags struct {
	Output string
	FailOn string
	Color  *cli.ColorFlag
	// Getenv decides colour ($NO_COLOR) and width ($COLUMNS); the command
	// sets its own in Complete.
	Getenv func(string) string

	format check.Format
	failOn check.FailOn
}

// NewReportFlags returns the defaults: table output, fail on FAIL only.
func NewReportFlags(color *cli.ColorFlag) *ReportFlags {
	return &ReportFlags{Output: string(check.FormatTable), FailOn: string(check.FailOnFail), Color: color, Getenv: os.Getenv}
}

// AddTo registers -o and --fail-on.
func (f *ReportFlags) AddTo(cmd *cobra.Command) {
	var formats []string
	for _, fm := range check.Formats() {
		formats = append(formats, string(fm))
	}
	cmd.Flags().StringVarP(&f.Output, "output", "o", f.Output, "Output format: "+strings.Join(formats, "|"))
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(formats, cobra.ShellCompDirectiveNoFileComp))
	cmd.Flags().StringVar(&f.FailOn, "fail-on", f.FailOn, "Lowest status that makes the exit code 1: fail|warn")
	_ = cmd.RegisterFlagCompletionFunc("fail-on", cobra.FixedCompletions([]string{"fail", "warn"}, cobra.ShellCompDirectiveNoFileComp))
}

// Validate parses the flags; a bad value is a usage error.
func (f *ReportFlags) Validate() error {
	var err error
	if f.format, err = check.ParseFormat(f.Output); err != nil {
		return cli.UsageError(err)
	}
	if f.failOn, err = check.ParseFailOn(f.FailOn); err != nil {
		return cli.UsageError(err)
	}
	return f.Color.Validate()
}

// Render writes the report to stdout and returns the error carrying its exit
// code (nil for 0). ov gives the compact view's rows (nil: grouped by group).
func (f *ReportFlags) Render(streams genericiooptions.IOStreams, r *check.Report, group check.GroupBy, ov *check.Overview) error {
	r.Finalize()
	if err := check.Render(streams.Out, *r, f.options(streams, group, ov)); err != nil {
		return err
	}
	return f.exit(r)
}

func (f *ReportFlags) options(streams genericiooptions.IOStreams, group check.GroupBy, ov *check.Overview) check.RenderOptions {
	return check.RenderOptions{
		Format: f.format, Color: f.Color.Enabled(streams.Out, f.Getenv), GroupBy: group, FailOn: f.failOn,
		Overview: ov, Width: cli.Width(streams.Out, f.Getenv),
	}
}

// exit is the error carrying the report's exit code (nil for 0).
func (f *ReportFlags) exit(r *check.Report) error {
	if code := r.ExitCode(f.failOn); code != cli.ExitOK {
		return cli.SilentExit(code)
	}
	return nil
}

// resolveEnvironment looks an environment up by name; -n replaces its
// conventional namespace (an environment installed under another name).
func resolveEnvironment(name string, flags *genericclioptions.ConfigFlags) (traderx.Environment, error) {
	env, err := traderx.LookupEnvironment(name)
	if err != nil {
		return env, cli.UsageError(err)
	}
	if flags != nil && flags.Namespace != nil && *flags.Namespace != "" {
		env.NamespaceOverride = *flags.Namespace
	}
	return env, nil
}
