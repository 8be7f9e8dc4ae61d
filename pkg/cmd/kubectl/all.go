package kubectl

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/table"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// judgeFunc judges one environment on its own cluster. where is the cluster
// once the mapping resolved it, also when reading it failed afterwards; the
// error carries its exit code.
type judgeFunc func(ctx context.Context, env traderx.Environment) (r *check.Report, where *check.Cluster, err error)

// EnvVerdict is one environment's row of `health --all` / `validate --all`.
type EnvVerdict struct {
	Environment string         `json:"environment"`
	Cluster     *check.Cluster `json:"cluster,omitempty"`
	// Verdict is empty when the environment could not be judged (Error).
	Verdict check.Verdict `json:"verdict,omitempty"`
	// Failing are the targets (services, …) with a failed check, in report order.
	Failing []string `json:"failing"`
	Reason  string   `json:"reason,omitempty"`
	// Error says why the environment could not be judged: its cluster is
	// unreachable (exit 3) or its mapping is wrong (exit 2).
	Error    string `json:"error,omitempty"`
	ExitCode int    `json:"exitCode"`

	// label is the verdict as the table words it.
	label string
}

// AllVerdicts is the whole of `--all -o json|yaml`.
type AllVerdicts struct {
	Kind         string       `json:"kind"`
	Environments []EnvVerdict `json:"environments"`
	// ExitCode is the worst of the environments'.
	ExitCode int `json:"exitCode"`
}

// allFormats are the -o values --all takes: one row per environment has no
// wide or JUnit form.
var allFormats = []string{string(check.FormatTable), string(check.FormatJSON), string(check.FormatYAML)}

func validateAllFormat(f *ReportFlags) error {
	if !slices.Contains(allFormats, f.Output) {
		return cli.Usagef("--all shows -o table, json or yaml, not %q", f.Output)
	}
	return nil
}

// judgeAll judges every environment at once, each on its own cluster: one
// slow or unreachable cluster costs no more than its own row.
func judgeAll(ctx context.Context, kind string, judge judgeFunc, failOn check.FailOn) AllVerdicts {
	envs := traderx.Environments()
	out := AllVerdicts{Kind: kind, Environments: make([]EnvVerdict, len(envs))}
	var wg sync.WaitGroup
	for i, env := range envs {
		wg.Go(func() {
			r, where, err := judge(ctx, env)
			v := EnvVerdict{Environment: env.Name, Cluster: where, Failing: []string{}}
			if err != nil {
				v.Error, v.ExitCode = err.Error(), cli.CodeOf(err)
			} else {
				r.Finalize()
				v.Verdict, v.Reason, v.ExitCode = r.Verdict, r.Reason, r.ExitCode(failOn)
				v.label = check.VerdictLabel(*r, failOn)
				for _, c := range r.Checks {
					if c.Status == check.StatusFail && !slices.Contains(v.Failing, c.Target) {
						v.Failing = append(v.Failing, c.Target)
					}
				}
			}
			out.Environments[i] = v
		})
	}
	wg.Wait()
	for _, v := range out.Environments {
		out.ExitCode = max(out.ExitCode, v.ExitCode)
	}
	return out
}

// renderAll prints the verdicts and returns the worst exit code: 3 when any
// cluster could not be read, else 2 for a wrong mapping, else the worst verdict's.
func renderAll(streams genericiooptions.IOStreams, format string, all AllVerdicts) error {
	done, err := cli.WriteData(streams.Out, format, all)
	if !done {
		err = allTable(all).Render(streams.Out)
	}
	if err != nil {
		return err
	}
	if all.ExitCode != cli.ExitOK {
		return cli.SilentExit(all.ExitCode)
	}
	return nil
}

func allTable(all AllVerdicts) *table.Table {
	t := table.New("")
	t.Row("ENV", "CLUSTER", "VERDICT", "FAILING")
	for _, v := range all.Environments {
		cluster := "-"
		if v.Cluster != nil {
			cluster = v.Cluster.Context
		}
		verdict := v.label
		switch {
		case v.ExitCode == cli.ExitUnavailable && v.Verdict == "":
			verdict = "UNREACHABLE"
		case v.Verdict == "":
			verdict = "ERROR"
		}
		failing := "-"
		if len(v.Failing) > 0 {
			failing = joinMax(v.Failing, 3)
		}
		t.Row(v.Environment, cluster, verdict, failing)
		if v.Error != "" {
			t.Line("  ✗ %s", v.Error)
		}
	}
	return t
}

// joinMax lists at most n names and counts the rest.
func joinMax(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:n], ", ") + " +" + strconv.Itoa(len(names)-n)
}
