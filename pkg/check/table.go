package check

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/fatih/color"
)

// The table is aligned by hand rather than with tablewriter: a hint must sit
// on its own line under its row, starting at the CHECK column and free to run
// past the columns, and tablewriter can only span a cell across columns by
// widening them to fit it; text/tabwriter would count colour escapes as width.

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

const (
	indent = "  " // rows under their group header
	gap    = "  " // between columns
)

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

func width(s string) int { return utf8.RuneCountInString(s) }

func pad(s string, w int) string { return s + strings.Repeat(" ", max(0, w-width(s))) }

func renderTable(w io.Writer, r Report, o RenderOptions) error {
	p := newPalette(o.Color)
	bw := bufio.NewWriter(w)

	groupKey, groupEmpty := func(c Check) string { return c.Target }, "(no target)"
	otherKey, otherHead := func(c Check) string { return c.Suite }, "SUITE"
	if o.GroupBy == GroupBySuite {
		groupKey, groupEmpty = func(c Check) string { return c.Suite }, "(no suite)"
		otherKey, otherHead = func(c Check) string { return c.Target }, "TARGET"
	}

	// One set of widths for the whole report, so every group lines up.
	statusW, nameW, otherW := width("STATUS"), width("CHECK"), width(otherHead)
	for _, c := range r.Checks {
		statusW = max(statusW, width(statusCell(c.Status)))
		nameW = max(nameW, width(c.Name))
		otherW = max(otherW, width(otherKey(c)))
	}
	line := func(status, name, other, msg string) string {
		return strings.TrimRight(indent+status+gap+pad(name, nameW)+gap+pad(other, otherW)+gap+msg, " ")
	}

	fmt.Fprintln(bw, title(r))
	for _, g := range groups(r.Checks, groupKey) {
		key := g.key
		if key == "" {
			key = groupEmpty
		}
		fmt.Fprintf(bw, "\n%s\n", p.bold.Sprint(key))
		fmt.Fprintln(bw, line(pad("STATUS", statusW), "CHECK", otherHead, "MESSAGE"))
		for _, c := range g.checks {
			sc := p.status(c.Status)
			// Pad before colouring: escapes have no width on screen.
			fmt.Fprintln(bw, line(sc.Sprint(pad(statusCell(c.Status), statusW)), c.Name, otherKey(c), c.Message))
			if c.Hint != "" && c.Status != StatusPass {
				fmt.Fprintf(bw, "%s%s%s%s %s\n", indent, strings.Repeat(" ", statusW), gap, sc.Sprint("→"), c.Hint)
			}
		}
	}

	s := r.Summary
	noun := r.noun()
	fmt.Fprintln(bw)
	fmt.Fprintf(bw, "Total %s: %d\n", noun, s.Total)
	fmt.Fprintf(bw, "Passed %s: %s\n", StatusPass.Symbol(), countIf(p.pass, s.Passed))
	fmt.Fprintf(bw, "Warnings %s: %s\n", StatusWarn.Symbol(), countIf(p.warn, s.Warnings))
	fmt.Fprintf(bw, "Failed %s: %s\n", StatusFail.Symbol(), countIf(p.fail, s.Failed))
	fmt.Fprintf(bw, "Skipped: %s\n", countIf(p.skip, s.Skipped))
	if s.evaluated() == 0 {
		fmt.Fprintln(bw, "Success rate: n/a (nothing evaluated)")
	} else {
		fmt.Fprintf(bw, "Success rate: %.1f%%\n", s.SuccessRate)
	}

	reason := r.Reason
	failsOnWarn := r.Verdict == VerdictDegraded && r.fails(o.FailOn)
	if failsOnWarn {
		reason += "; warnings fail this run"
	}
	vc := p.verdict(r.Verdict)
	if failsOnWarn {
		vc = p.fail
	}
	fmt.Fprintf(bw, "\nStatus: %s — %s\n", vc.Sprint(verdictLabel(r, failsOnWarn)), reason)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	return nil
}

// title names the run: "Health of dev (namespace traderx-dev)".
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
	return t
}

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
