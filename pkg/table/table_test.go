package table

import (
	"bytes"
	"testing"

	"github.com/fatih/color"
	"github.com/google/go-cmp/cmp"
)

func TestRender(t *testing.T) {
	red := color.New(color.FgRed)
	red.EnableColor()
	tests := []struct {
		name  string
		build func(*Table)
		want  string
	}{
		{"empty", func(*Table) {}, ""},
		{"columns line up, last column untrimmed text kept", func(t *Table) {
			t.Row("NAME", "READY", "STATUS")
			t.Row("trade-service", "0/1", "✗ pods-ready")
			t.Row("db", "1/1", "✓")
		}, "" +
			"  NAME           READY  STATUS\n" +
			"  trade-service  0/1    ✗ pods-ready\n" +
			"  db             1/1    ✓\n"},
		{"colour escapes take no width", func(t *Table) {
			t.Row(red.Sprint("✗ FAIL"), "a")
			t.Row("✓ PASS", "b")
		}, "" +
			"  \x1b[31m✗ FAIL\x1b[0m  a\n" +
			"  ✓ PASS  b\n"},
		{"free lines sit between rows and run past the columns", func(t *Table) {
			t.Line("group")
			t.Row("A", "B")
			t.Row("x", "y")
			t.Line("  → a hint much longer than any column of this table")
			t.Line("")
			t.Row("short")
		}, "" +
			"  group\n" +
			"  A      B\n" +
			"  x      y\n" +
			"    → a hint much longer than any column of this table\n" +
			"\n" +
			"  short\n"},
		{"a newline in a cell stays on the row", func(t *Table) {
			t.Row("a\nb", "c")
		}, "  a b  c\n"},
		{"wide glyphs take two cells", func(t *Table) {
			t.Row("日本", "x")
			t.Row("abcd", "y")
		}, "" +
			"  日本  x\n" +
			"  abcd  y\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := New("  ")
			tt.build(tb)
			var buf bytes.Buffer
			if err := tb.Render(&buf); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, buf.String()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
