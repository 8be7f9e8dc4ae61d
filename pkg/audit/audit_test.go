package audit_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/finos/traderx-plugins/pkg/audit"
)

func TestLogConsoleFileAndRecords(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	var console bytes.Buffer
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.Local)
	l, err := audit.Open(audit.Options{Dir: dir, Command: "apply", Console: &console, Secrets: []string{"s3cr3t-token"}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUser("alice")
	l.Logger().Info("tier 1: applying database-deployment")
	l.Logger().Warn("retrying with token s3cr3t-token")
	l.Logger().Debug("debug only in the file")
	l.Record(audit.Record{Action: "apply", Environment: "dev", Units: []string{"b", "a"}, Revisions: map[string]int64{"a": 3}, Duration: time.Second})
	l.Record(audit.Record{Action: "apply", Environment: "dev", Units: []string{"c"}, Result: audit.ResultFailed, Error: "boom"})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(console.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("console lines: %q", console.String())
	}
	re := regexp.MustCompile(`^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] (INFO|WARN|ERROR): `)
	for _, line := range lines {
		if !re.MatchString(line) {
			t.Errorf("console line %q does not match %s", line, re)
		}
	}
	if !strings.Contains(lines[1], "WARN: retrying with token REDACTED") {
		t.Errorf("token not redacted on the console: %q", lines[1])
	}
	files, _ := filepath.Glob(filepath.Join(dir, "cub-traderx-*-apply-*.log"))
	if len(files) != 1 {
		t.Fatalf("log files: %v", files)
	}
	fi, _ := os.Stat(files[0])
	if fi.Mode().Perm() != 0o400 {
		t.Errorf("log file mode %v", fi.Mode())
	}
	b, _ := os.ReadFile(files[0])
	s := string(b)
	if strings.Contains(s, "s3cr3t-token") {
		t.Errorf("token in the log file:\n%s", s)
	}
	for _, want := range []string{`"level":"DEBUG"`, `"audit":true`, `"user":"alice"`, `"action":"apply"`, `"environment":"dev"`,
		`"units":["a","b"]`, `"revisions":{"a":3}`, `"result":"ok"`, `"duration_s":1`, `"result":"failed"`, `"error":"boom"`} {
		if !strings.Contains(s, want) {
			t.Errorf("log file lacks %s:\n%s", want, s)
		}
	}
}

func TestDefaultDir(t *testing.T) {
	env := map[string]string{"XDG_STATE_HOME": "/state"}
	if got := audit.DefaultDir(func(k string) string { return env[k] }, "/home/u"); got != "/state/traderx/logs" {
		t.Errorf("with XDG_STATE_HOME: %s", got)
	}
	if got := audit.DefaultDir(func(string) string { return "" }, "/home/u"); got != "/home/u/.local/state/traderx/logs" {
		t.Errorf("fallback: %s", got)
	}
}
