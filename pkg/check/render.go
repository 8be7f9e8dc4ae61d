package check

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"sigs.k8s.io/yaml"
)

// Format is an output format of a report.
type Format string

const (
	FormatTable Format = "table" // compact: a row per group, problems in full
	FormatWide  Format = "wide"  // every check, one row each
	FormatJSON  Format = "json"
	FormatYAML  Format = "yaml"
	FormatJUnit Format = "junit" // for CI systems that chart test results
)

// Formats lists every format, e.g. for flag help and completion.
func Formats() []Format {
	return []Format{FormatTable, FormatWide, FormatJSON, FormatYAML, FormatJUnit}
}

// ParseFormat reads an output format; empty means FormatTable.
func ParseFormat(s string) (Format, error) {
	f := Format(strings.ToLower(strings.TrimSpace(s)))
	if f == "" {
		return FormatTable, nil
	}
	var valid []string
	for _, known := range Formats() {
		if f == known {
			return f, nil
		}
		valid = append(valid, string(known))
	}
	return "", fmt.Errorf("invalid output format %q: want one of %s", s, strings.Join(valid, ", "))
}

// GroupBy says how the tables group checks.
type GroupBy int

const (
	// GroupByTarget puts each target's checks together: health reads per service.
	GroupByTarget GroupBy = iota
	// GroupBySuite puts each suite's checks together: validation reads per suite.
	GroupBySuite
)

// RenderOptions choose how Render writes a report.
type RenderOptions struct {
	Format Format
	// Color turns on ANSI colours in the table; the caller decides (terminal,
	// --no-color, NO_COLOR) so that rendering itself never looks at the process.
	Color   bool
	GroupBy GroupBy
	// FailOn marks warnings as failures in JUnit and says so in the table.
	FailOn FailOn
	// Overview gives the rows of the compact table; nil groups the checks by
	// GroupBy and counts them (see groupOverview).
	Overview *Overview
	// Width is the screen width the compact table wraps messages to; zero
	// means DefaultWidth.
	Width int
}

// Render writes the report in the chosen format. It finalizes its own copy of
// the report, so a caller that forgot Finalize still gets a right summary.
func Render(w io.Writer, r Report, o RenderOptions) error {
	r.Finalize()
	switch o.Format {
	case FormatTable, "":
		return renderCompact(w, r, o)
	case FormatWide:
		return renderWide(w, r, o)
	case FormatJSON:
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return fmt.Errorf("encoding report as JSON: %w", err)
		}
		return write(w, append(b, '\n'))
	case FormatYAML:
		b, err := yaml.Marshal(r)
		if err != nil {
			return fmt.Errorf("encoding report as YAML: %w", err)
		}
		return write(w, b)
	case FormatJUnit:
		return renderJUnit(w, r, o)
	}
	_, err := ParseFormat(string(o.Format))
	return err
}

func write(w io.Writer, b []byte) error {
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	return nil
}
