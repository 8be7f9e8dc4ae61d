package check

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/olekukonko/tablewriter/pkg/twwarp"
	"github.com/olekukonko/tablewriter/pkg/twwidth"

	"github.com/finos/traderx-plugins/pkg/table"
)

// DefaultWidth is the screen width the compact view wraps to when the
// caller knows none (output is not a terminal).
const DefaultWidth = 100

// Overview is the compact view of a report: one row per group of checks
// with a few facts about the group and its status, and every check of the
// group that did not pass in full under its row. Health groups by service
// (facts: the active colour and ready pods), validation by suite (facts: the
// counts).
type Overview struct {
	// Columns heads the fact columns; the first names the groups (SERVICE).
	// STATUS follows them.
	Columns []string
	Rows    []OverviewRow
}

// OverviewRow is one group.
type OverviewRow struct {
	// Cells holds one value per column; the first is the group's name.
	Cells  []string
	Checks []Check
}

// Status is the row's status: the worst of its checks, SKIP only when
// every check was skipped (or there is none).
func (row OverviewRow) Status() Status {
	worst := StatusSkip
	for _, c := range row.Checks {
		switch {
		case c.Status == StatusPass:
			if worst == StatusSkip {
				worst = StatusPass
			}
		case c.Status == StatusWarn:
			if worst != StatusFail {
				worst = StatusWarn
			}
		case c.Status != StatusSkip:
			worst = StatusFail // unknown statuses fail, as in Finalize
		}
	}
	return worst
}

// problems are the row's checks that did not pass, worst first, in report
// order within a status.
func (row OverviewRow) problems() []Check {
	var out []Check
	for _, st := range []Status{StatusFail, StatusWarn, StatusSkip} {
		for _, c := range row.Checks {
			if severity(c.Status) == severity(st) {
				out = append(out, c)
			}
		}
	}
	return out
}

func severity(s Status) Status {
	switch s {
	case StatusPass, StatusWarn, StatusSkip:
		return s
	}
	return StatusFail
}

// groupOverview groups a report's checks by target or suite, each row with
// its counts: the compact view of a validation.
func groupOverview(r Report, by GroupBy) Overview {
	key, head := func(c Check) string { return c.Target }, "TARGET"
	if by == GroupBySuite {
		key, head = func(c Check) string { return c.Suite }, "SUITE"
	}
	o := Overview{Columns: []string{head, "PASSED", "WARNINGS", "FAILED", "SKIPPED"}}
	for _, g := range groups(r.Checks, key) {
		var n [4]int
		for _, c := range g.checks {
			switch severity(c.Status) {
			case StatusPass:
				n[0]++
			case StatusWarn:
				n[1]++
			case StatusFail:
				n[2]++
			default:
				n[3]++
			}
		}
		name := g.key
		if name == "" {
			name = "(none)"
		}
		o.Rows = append(o.Rows, OverviewRow{Checks: g.checks, Cells: []string{name,
			strconv.Itoa(n[0]), strconv.Itoa(n[1]), strconv.Itoa(n[2]), strconv.Itoa(n[3])}})
	}
	return o
}

// renderCompact writes the overview: a row per group with its status (and
// the first problem's name), every problem in full under its row, the hint
// under the problem, then the verdict.
func renderCompact(w io.Writer, r Report, o RenderOptions) error {
	p := newPalette(o.Color)
	bw := bufio.NewWriter(w)
	ov := groupOverview(r, o.GroupBy)
	if o.Overview != nil {
		ov = *o.Overview
	}
	width := o.Width
	if width <= 0 {
		width = DefaultWidth
	}

	fmt.Fprintln(bw, title(r))
	fmt.Fprintln(bw)
	t := table.New("")
	if len(ov.Rows) > 0 {
		t.Row(append(append([]string(nil), ov.Columns...), "STATUS")...)
	}
	for _, row := range ov.Rows {
		st := row.Status()
		probs := row.problems()
		cell := p.status(st).Sprint(st.Symbol())
		if st != StatusPass && len(probs) > 0 {
			cell += " " + probs[0].Name
			if len(probs) > 1 {
				cell += fmt.Sprintf(" +%d", len(probs)-1)
			}
		}
		t.Row(append(append([]string(nil), row.Cells...), cell)...)
		name := ""
		if len(row.Cells) > 0 {
			name = row.Cells[0]
		}
		for _, c := range probs {
			sc := p.status(c.Status)
			label := c.Name
			if c.Target != name {
				label = strings.TrimSpace(c.Target + " " + c.Name)
			}
			// The message wraps under itself; the hint is a command, kept
			// whole so it can be copied.
			lead := indent + c.Status.Symbol() + " "
			lines := wrap(label+": "+c.Message, width-twwidth.Width(lead))
			t.Line("%s%s %s", indent, sc.Sprint(c.Status.Symbol()), lines[0])
			for _, l := range lines[1:] {
				t.Line("%s%s", strings.Repeat(" ", twwidth.Width(lead)), l)
			}
			if c.Hint != "" {
				t.Line("%s  %s %s", indent, sc.Sprint("→"), c.Hint)
			}
		}
	}
	if err := t.Render(bw); err != nil {
		return err
	}
	if t.Len() > 0 {
		fmt.Fprintln(bw)
	}
	// The verdict wraps under its reason.
	status := wrap(StatusLine(r, o.FailOn, o.Color), width-len(statusLead))
	fmt.Fprintln(bw, status[0])
	for _, l := range status[1:] {
		fmt.Fprintln(bw, strings.Repeat(" ", len(statusLead))+l)
	}
	return flush(bw)
}

// wrap breaks text into lines of at most width cells (a longer word gets a
// line of its own); a narrow screen still gets 40.
func wrap(text string, width int) []string {
	if twwidth.Width(text) <= width {
		return []string{text}
	}
	lines, _ := twwarp.WrapString(text, max(width, 40))
	return lines
}
