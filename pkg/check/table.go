package check

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/fatih/color"
	"github.com/olekukonko/tablewriter/pkg/twwidth"

	"github.com/finos/traderx-plugins/pkg/table"
)

// palette holds the colours of one rendering. Each colour is switched on or off
// explicitly, so output never depends on the global color.NoColor or the terminal.
type palette struct {
	pass, warn, fail, skip, bold *color.Color
}

func newPalette(enabled bool) palette {
	p := palette{
		pass: color.New(color.FgGreen),
		warn: color.New(color.FgYellow),
		fail: color.New(color.FgRed),
		skip: color.New(color.Faint),
		bold: color.New(color.Bold),
	}
	for _, c := range []*color.Color{p.pass, p.warn, p.fail, p.skip, p.bold} {
		if enabled {
			c.EnableColor()
		} else {
			c.DisableColor()
		}
	}
	return p
}

func (p palette) status(s Status) *color.Color {
	switch s {
	case StatusPass:
		return p.pass
	case StatusWarn:
		return p.warn
	case StatusSkip:
		return p.skip
	default:
		return p.fail
	}
}

func (p palette) verdict(v Verdict) *color.Color {
	switch v {
	case VerdictHealthy:
		return p.pass
	case VerdictDegraded:
		return p.warn
	default:
		return p.fail
	}
}

// countIf colours a count only when it is not zero, so the eye finds the
// lines that matter.
func countIf(c *color.Color, n int) string {
	if n == 0 {
		return "0"
	}
	return c.Sprint(n)
}

const indent = "  " // rows under their group header

type group struct {
	key    string
	checks []Check
}

// groups splits checks by key in the order each key first appears.
func groups(checks []Check, key func(Check) string) []group {
	var out []group
	at := map[string]int{}
	for _, c := range checks {
		k := key(c)
		i, ok := at[k]
		if !ok {
			i = len(out)
			at[k] = i
			out = append(out, group{key: k})
		}
		out[i].checks = append(out[i].checks, c)
	}
	return out
}

func statusCell(s Status) string { return s.Symbol() + " " + string(s) }

// renderWide writes every check: per group a title, then STATUS, CHECK, the
// other key and MESSAGE, each hint on its own line under its check. One
// table for the whole report, so every group lines up.
func renderWide(w io.Writer, r Report, o RenderOptions) error {
	p := newPalette(o.Color)
	bw := bufio.NewWriter(w)

	groupKey, groupEmpty := func(c Check) string { return c.Target }, "(no target)"
	otherKey, otherHead := func(c Check) string { return c.Suite }, "SUITE"
	if o.GroupBy == GroupBySuite {
		groupKey, groupEmpty = func(c Check) string { return c.Suite }, "(no suite)"
		otherKey, otherHead = func(c Check) string { return c.Target }, "TARGET"
	}
	// A hint starts under the CHECK column.
	statusW := twwidth.Width("STATUS")
	for _, c := range r.Checks {
		statusW = max(statusW, twwidth.Width(statusCell(c.Status)))
	}
	hintIndent := strings.Repeat(" ", statusW) + table.Gap

	fmt.Fprintln(bw, title(r))
	t := table.New("")
	for _, g := range groups(r.Checks, groupKey) {
		key := g.key
		if key == "" {
			key = groupEmpty
		}
		t.Line("")
		t.Line("%s", p.bold.Sprint(key))
		t.Row(indent+"STATUS", "CHECK", otherHead, "MESSAGE")
		for _, c := range g.checks {
			sc := p.status(c.Status)
			t.Row(indent+sc.Sprint(statusCell(c.Status)), c.Name, otherKey(c), c.Message)
			if c.Hint != "" && c.Status != StatusPass {
				t.Line("%s%s%s %s", indent, hintIndent, sc.Sprint("→"), c.Hint)
			}
		}
	}
	if err := t.Render(bw); err != nil {
		return err
	}

	s := r.Summary
	fmt.Fprintln(bw)
	fmt.Fprintf(bw, "Total %s: %d\n", r.noun(), s.Total)
	fmt.Fprintf(bw, "Passed %s: %s\n", StatusPass.Symbol(), countIf(p.pass, s.Passed))
	fmt.Fprintf(bw, "Warnings %s: %s\n", StatusWarn.Symbol(), countIf(p.warn, s.Warnings))
	fmt.Fprintf(bw, "Failed %s: %s\n", StatusFail.Symbol(), countIf(p.fail, s.Failed))
	fmt.Fprintf(bw, "Skipped: %s\n", countIf(p.skip, s.Skipped))
	if s.evaluated() == 0 {
		fmt.Fprintln(bw, "Success rate: n/a (nothing evaluated)")
	} else {
		fmt.Fprintf(bw, "Success rate: %.1f%%\n", s.SuccessRate)
	}
	fmt.Fprintln(bw)
	fmt.Fprintln(bw, StatusLine(r, o.FailOn, o.Color))
	return flush(bw)
}

// StatusLine is the verdict line every table view ends with, e.g.
// "Status: UNHEALTHY — 1 check failed: trade-service pods-ready". Watch
// modes print it on its own.
func StatusLine(r Report, f FailOn, colour bool) string {
	r.Finalize()
	p := newPalette(colour)
	reason := r.Reason
	failsOnWarn := r.Verdict == VerdictDegraded && r.fails(f)
	if failsOnWarn {
		reason += "; warnings fail this run"
	}
	vc := p.verdict(r.Verdict)
	if failsOnWarn {
		vc = p.fail
	}
	return fmt.Sprintf("%s%s — %s", statusLead, vc.Sprint(verdictLabel(r, failsOnWarn)), reason)
}

const statusLead = "Status: "

func flush(bw *bufio.Writer) error {
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	return nil
}

// title names the run: "Health of dev (namespace traderx-dev)", and on a
// second line the cluster judged, when one was.
func title(r Report) string {
	t := "Health"
	if r.Kind == KindValidate {
		t = "Validation"
	}
	if r.Environment != "" {
		t += " of " + r.Environment
	}
	if r.Namespace != "" {
		t += " (namespace " + r.Namespace + ")"
	}
	if r.Cluster != nil {
		t += "\nCluster: " + r.Cluster.String()
	}
	return t
}

// VerdictLabel is the verdict as the human views word it (PASSED, FAILED, …
// for a validation).
func VerdictLabel(r Report, f FailOn) string { return verdictLabel(r, f == FailOnWarn) }

// verdictLabel words the verdict for people: a validation passes or fails,
// an environment is healthy or not.
func verdictLabel(r Report, failsOnWarn bool) string {
	if r.Kind != KindValidate {
		return string(r.Verdict)
	}
	switch {
	case r.Verdict == VerdictHealthy:
		return "PASSED"
	case r.Verdict == VerdictDegraded && !failsOnWarn:
		return "PASSED WITH WARNINGS"
	default:
		return "FAILED"
	}
}
