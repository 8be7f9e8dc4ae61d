package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
)

// Problem kinds Verify reports.
const (
	Altered   = "altered"
	Removed   = "removed"
	Reordered = "reordered"
)

// Problem is the first break of a log directory's chain.
type Problem struct {
	Kind string `json:"kind"` // Altered, Removed or Reordered
	File string `json:"file"` // base name of the run file ("" when only the head shows it)
	Line int    `json:"line"` // 1-based line in File
	Seq  int64  `json:"seq"`  // the record's place in the chain
	// Message names the record and what is wrong with it.
	Message string `json:"message"`
}

func (p *Problem) Error() string { return p.Message }

// Verification is the result of checking a log directory.
type Verification struct {
	Dir     string `json:"dir"`
	Records int64  `json:"records"`
	Files   int    `json:"files"`
	// Unchained are run files written before records were chained; they
	// are listed, not judged.
	Unchained []string `json:"unchained,omitempty"`
	// Problem is the first break in chain order; nil when the chain is intact.
	Problem *Problem `json:"problem,omitempty"`
}

// RunFilePattern matches the run files of a log directory.
const RunFilePattern = "cub-traderx-*.log"

type chainedLine struct {
	file   string
	line   int
	seq    int64
	prev   string
	hash   string
	broken string // why the line does not match its hash, "" when it does
}

func (c chainedLine) where() string { return fmt.Sprintf("%s:%d (seq %d)", c.file, c.line, c.seq) }

// Verify checks the hash chain of a log directory: every line of every run
// file against its hash, the seq numbers for gaps and duplicates, each file's
// lines for rising seq, each record's prev against the record before it, and
// the head against the last record. It reports the first problem in chain
// order; an error means the directory could not be read.
func Verify(dir string) (*Verification, error) {
	files, err := filepath.Glob(filepath.Join(dir, RunFilePattern))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	v := &Verification{Dir: dir, Files: len(files)}
	var lines []chainedLine
	var problems []Problem
	for _, f := range files {
		got, unchained, err := readChained(f)
		if err != nil {
			return nil, err
		}
		if unchained {
			v.Unchained = append(v.Unchained, filepath.Base(f))
			continue
		}
		for i := 1; i < len(got); i++ {
			if got[i].seq <= got[i-1].seq && got[i].broken == "" && got[i-1].broken == "" {
				problems = append(problems, Problem{Kind: Reordered, File: got[i].file, Line: got[i].line, Seq: got[i].seq,
					Message: fmt.Sprintf("%s comes after %s in its file: lines were reordered", got[i].where(), got[i-1].where())})
			}
		}
		lines = append(lines, got...)
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].seq < lines[j].seq })
	want, last := int64(1), Genesis
	var prevLine *chainedLine
	for i := range lines {
		l := lines[i]
		switch {
		case l.broken != "":
			problems = append(problems, Problem{Kind: Altered, File: l.file, Line: l.line, Seq: l.seq, Message: l.where() + " was altered: " + l.broken})
		case l.seq < want:
			problems = append(problems, Problem{Kind: Reordered, File: l.file, Line: l.line, Seq: l.seq,
				Message: fmt.Sprintf("%s repeats seq %d of %s: a record was copied or the head was reset", l.where(), l.seq, prevLine.where())})
		case l.seq > want:
			problems = append(problems, Problem{Kind: Removed, File: l.file, Line: l.line, Seq: want,
				Message: fmt.Sprintf("records seq %d to %d were removed: the chain resumes at %s", want, l.seq-1, l.where())})
		case l.prev != last:
			at := "the start of the chain"
			if prevLine != nil {
				at = prevLine.where()
			}
			problems = append(problems, Problem{Kind: Altered, File: l.file, Line: l.line, Seq: l.seq - 1,
				Message: fmt.Sprintf("%s does not follow %s: that record was replaced", l.where(), at)})
		}
		want, last, prevLine = l.seq+1, l.hash, &lines[i]
	}
	v.Records = int64(len(lines))
	headSeq, headHash, err := readHead(dir)
	if err != nil {
		return nil, err
	}
	lastSeq := want - 1
	switch {
	case headSeq > lastSeq:
		problems = append(problems, Problem{Kind: Removed, Seq: lastSeq + 1,
			Message: fmt.Sprintf("records seq %d to %d were removed: %s names seq %d, the last record is seq %d", lastSeq+1, headSeq, HeadFile, headSeq, lastSeq)})
	case headSeq < lastSeq || (headSeq > 0 && headHash != last):
		problems = append(problems, Problem{Kind: Altered, Seq: headSeq,
			Message: fmt.Sprintf("%s (seq %d) does not match the last record (seq %d): the head or the last records were replaced", HeadFile, headSeq, lastSeq)})
	}
	if len(problems) > 0 {
		slices.SortStableFunc(problems, func(a, b Problem) int { return int(a.Seq - b.Seq) })
		v.Problem = &problems[0]
	}
	return v, nil
}

// readChained reads a run file's lines; unchained is true when no line
// carries chain fields (a file from before chaining).
func readChained(path string) (out []chainedLine, unchained bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	base := filepath.Base(path)
	anyChained := false
	n := 0
	for sc.Scan() {
		n++
		l := chainedLine{file: base, line: n}
		b := sc.Bytes()
		var fields struct {
			Seq  int64  `json:"seq"`
			Prev string `json:"prev"`
			Hash string `json:"hash"`
		}
		if err := json.Unmarshal(b, &fields); err != nil {
			l.broken = "not a JSON record"
		} else {
			l.seq, l.prev, l.hash = fields.Seq, fields.Prev, fields.Hash
		}
		i := bytes.LastIndex(b, []byte(hashField))
		switch {
		case l.broken != "":
		case i < 0 || fields.Hash == "":
			l.broken = "it carries no hash"
		case hashOf(b[:i]) != fields.Hash || !bytes.Equal(b[i:], []byte(hashField+fields.Hash+`"}`)):
			anyChained = true
			l.broken = "its content does not match its hash"
		default:
			anyChained = true
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		return nil, false, fmt.Errorf("read %s: %w", path, err)
	}
	return out, !anyChained && len(out) > 0, nil
}
