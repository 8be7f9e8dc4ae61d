package audit_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/finos/traderx-plugins/pkg/audit"
)

// writeRuns writes two runs into dir at once, records interleaving on the
// chain, and returns the run files.
func writeRuns(t *testing.T, dir string) []string {
	t.Helper()
	var wg sync.WaitGroup
	for _, cmd := range []string{"apply", "promote"} {
		l, err := audit.Open(audit.Options{Dir: dir, Command: cmd})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				l.Record(audit.Record{Action: cmd, Environment: "dev", Units: []string{fmt.Sprintf("u%d", i)}})
			}
			if err := l.Close(); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	var files []string
	for _, cmd := range []string{"apply", "promote"} {
		f, _ := filepath.Glob(filepath.Join(dir, "cub-traderx-*-"+cmd+"-*.log"))
		files = append(files, f...)
	}
	if len(files) != 2 {
		t.Fatalf("run files: %v", files)
	}
	return files
}

func rewrite(t *testing.T, path string, edit func(lines []string) []string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Join(edit(lines), "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestVerify(t *testing.T) {
	tests := []struct {
		name string
		// edit changes the first run file's lines; nil leaves it intact.
		edit     func([]string) []string
		wantKind string
		wantLine int // in the first run file; 0: any
	}{
		{name: "intact"},
		{name: "a tampered line", edit: func(l []string) []string {
			l[4] = strings.Replace(l[4], `"result":"ok"`, `"result":"OK"`, 1)
			return l
		}, wantKind: audit.Altered, wantLine: 5},
		{name: "a line rewritten with a matching hash", edit: func(l []string) []string {
			// The record before the last one of the file, so its successor in the chain
			// is somewhere after it.
			i := len(l) - 2
			body := strings.Replace(l[i][:strings.LastIndex(l[i], `,"hash"`)], `"result":"ok"`, `"result":"OK"`, 1)
			sum := sha256.Sum256([]byte(body))
			l[i] = body + `,"hash":"` + hex.EncodeToString(sum[:]) + `"}`
			return l
		}, wantKind: audit.Altered},
		{name: "a deleted line", edit: func(l []string) []string { return append(l[:6:6], l[7:]...) }, wantKind: audit.Removed},
		{name: "the last line deleted", edit: func(l []string) []string { return l[:len(l)-1] }, wantKind: audit.Removed},
		{name: "two lines swapped", edit: func(l []string) []string {
			l[2], l[3] = l[3], l[2]
			return l
		}, wantKind: audit.Reordered, wantLine: 4},
		{name: "the hash stripped", edit: func(l []string) []string {
			l[1] = l[1][:strings.LastIndex(l[1], `,"hash"`)] + "}"
			return l
		}, wantKind: audit.Altered, wantLine: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			files := writeRuns(t, dir)
			for _, f := range files {
				fi, _ := os.Stat(f)
				if fi.Mode().Perm() != 0o400 {
					t.Errorf("closed run file %s has mode %v, want read-only 0400", f, fi.Mode().Perm())
				}
			}
			// The last record must be in the file edited for "the last line deleted".
			first := files[0]
			if head, _ := os.ReadFile(filepath.Join(dir, audit.HeadFile)); tt.name == "the last line deleted" {
				last := strings.Fields(string(head))[1]
				if b, _ := os.ReadFile(first); !bytes.Contains(b, []byte(last)) {
					first = files[1]
				}
			}
			if tt.edit != nil {
				rewrite(t, first, tt.edit)
			}
			v, err := audit.Verify(dir)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantKind == "" {
				if v.Problem != nil {
					t.Fatalf("intact chain reported: %s", v.Problem.Message)
				}
				if v.Records != 40 || len(v.Unchained) != 0 {
					t.Errorf("records = %d, unchained %v; want 40 and none", v.Records, v.Unchained)
				}
				return
			}
			if v.Problem == nil {
				t.Fatalf("not caught")
			}
			if v.Problem.Kind != tt.wantKind {
				t.Errorf("kind = %s, want %s (%s)", v.Problem.Kind, tt.wantKind, v.Problem.Message)
			}
			if tt.wantLine > 0 && (v.Problem.File != filepath.Base(first) || v.Problem.Line != tt.wantLine) {
				t.Errorf("names %s:%d, want %s:%d (%s)", v.Problem.File, v.Problem.Line, filepath.Base(first), tt.wantLine, v.Problem.Message)
			}
		})
	}
}

func TestVerifyListsUnchainedFiles(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "cub-traderx-20250101T000000.000Z-status-1.log")
	if err := os.WriteFile(old, []byte(`{"msg":"from before chaining"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	writeRuns(t, dir)
	v, err := audit.Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	if v.Problem != nil || len(v.Unchained) != 1 || v.Records != 40 {
		t.Errorf("got %+v", v)
	}
}

func TestReadRecordsByRun(t *testing.T) {
	dir := t.TempDir()
	l, err := audit.Open(audit.Options{Dir: dir, Command: "apply", RunID: "run-1"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUser("alice")
	l.Logger().Info("not a record")
	l.Record(audit.Record{Action: "confirm", Environment: "prod", Detail: "terminal answer"})
	l.Close()
	recs, err := audit.ReadRecords(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := recs["run-1"]
	if len(got) != 1 || got[0].Action != "confirm" || got[0].User != "alice" || got[0].Detail != "terminal answer" {
		t.Errorf("got %+v", recs)
	}
}
