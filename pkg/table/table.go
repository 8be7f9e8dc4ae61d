// Package table writes the human tables of both plugins: borderless and
// kubectl-like, columns two spaces apart, laid out by tablewriter, which
// measures what a cell takes on screen (colour escapes take nothing, wide
// glyphs two cells). Free lines may sit between the rows — a group's title
// above them, a hint under its row — and run past the columns, which a cell
// could not do without widening its column for every row.
package table

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// Gap separates columns.
const Gap = "  "

// Table collects rows and free lines in the order they are shown.
type Table struct {
	indent string
	items  []item
	rows   int
}

// item is a row (cells) or a free line (cells nil).
type item struct {
	cells []string
	line  string
}

// New returns an empty table whose lines start with indent (rows and free
// lines alike).
func New(indent string) *Table { return &Table{indent: indent} }

// Row adds a row; the first row is usually the header. A newline in a cell
// becomes a space: a row is one line, so lines under it stay under it.
func (t *Table) Row(cells ...string) {
	row := make([]string, len(cells))
	for i, c := range cells {
		row[i] = strings.ReplaceAll(c, "\n", " ")
	}
	t.items = append(t.items, item{cells: row})
	t.rows++
}

// Line adds a free line at this place, outside the columns.
func (t *Table) Line(format string, args ...any) {
	t.items = append(t.items, item{line: fmt.Sprintf(format, args...)})
}

// Len is the number of rows.
func (t *Table) Len() int { return t.rows }

// Render writes the table. Every row has the columns of the widest row; the
// trailing blanks tablewriter pads the last column with are trimmed.
func (t *Table) Render(w io.Writer) error {
	lines, err := t.rowLines()
	if err != nil {
		return err
	}
	var out bytes.Buffer
	next := 0
	for _, it := range t.items {
		text := it.line
		if it.cells != nil {
			text = lines[next]
			next++
		}
		out.WriteString(strings.TrimRight(t.indent+text, " "))
		out.WriteByte('\n')
	}
	if _, err := w.Write(out.Bytes()); err != nil {
		return fmt.Errorf("writing table: %w", err)
	}
	return nil
}

// Tablewriter appends a colour reset after the padding of a coloured cell;
// after the cell's own reset it changes nothing, so it goes, and so do the
// blanks before it at the end of a line.
var (
	repeatedReset = regexp.MustCompile(`(\x1b\[0m)( *)\x1b\[0m`)
	trailingReset = regexp.MustCompile(` +(\x1b\[0m)$`)
)

// rowLines lays the rows out with tablewriter, one line per row.
func (t *Table) rowLines() ([]string, error) {
	if t.rows == 0 {
		return nil, nil
	}
	cols := 0
	for _, it := range t.items {
		cols = max(cols, len(it.cells))
	}
	var buf bytes.Buffer
	tbl := tablewriter.NewTable(&buf,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders:  tw.BorderNone,
			Symbols:  tw.NewSymbols(tw.StyleNone),
			Settings: tw.Settings{Separators: tw.SeparatorsNone, Lines: tw.LinesNone},
		})),
		tablewriter.WithConfig(tablewriter.Config{
			Row: tw.CellConfig{
				Formatting: tw.CellFormatting{AutoWrap: tw.WrapNone, AutoFormat: tw.Off},
				Alignment:  tw.CellAlignment{Global: tw.AlignLeft},
			},
		}),
		tablewriter.WithPadding(tw.Padding{Right: Gap, Overwrite: true}),
		tablewriter.WithTrimSpace(tw.Off),
	)
	for _, it := range t.items {
		if it.cells == nil {
			continue
		}
		row := append(append([]string(nil), it.cells...), make([]string, cols-len(it.cells))...)
		if err := tbl.Append(row); err != nil {
			return nil, fmt.Errorf("laying out a table row: %w", err)
		}
	}
	if err := tbl.Render(); err != nil {
		return nil, fmt.Errorf("laying out a table: %w", err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != t.rows {
		return nil, fmt.Errorf("laying out a table: %d rows became %d lines", t.rows, len(lines))
	}
	for i, l := range lines {
		l = repeatedReset.ReplaceAllString(l, "$1$2")
		lines[i] = trailingReset.ReplaceAllString(l, "$1")
	}
	return lines, nil
}
