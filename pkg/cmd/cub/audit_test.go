package cub

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/finos/traderx-plugins/pkg/rollout"
)

// auditChanges runs `audit <env> -o json`.
func (h *harness) auditChanges(env string) []rollout.AuditChange {
	h.t.Helper()
	r := h.run("", "audit", env, "-o", "json")
	if r.code != 0 {
		h.t.Fatalf("audit %s: %s", env, r)
	}
	var out []rollout.AuditChange
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		h.t.Fatalf("audit %s -o json: %v\n%s", env, err, r.stdout)
	}
	return out
}

// findChange returns the one change whose description starts with prefix.
func findChange(t *testing.T, changes []rollout.AuditChange, prefix string) rollout.AuditChange {
	t.Helper()
	var found []rollout.AuditChange
	for _, c := range changes {
		if strings.HasPrefix(c.Change, prefix) {
			found = append(found, c)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d changes start with %q, want 1: %+v", len(found), prefix, changes)
	}
	return found[0]
}

// A runbook — install, apply dev, set-image dev, promote dev staging, apply
// and set-image prod in CI with an approval, roll dev back — then the audit:
// every change is there, with its user, release, apply result, approval
// and the rollback that undid it; the CSV parses back; the local log
// verifies, and a tampered and a deleted line are each caught.
func TestAuditOfARunbook(t *testing.T) {
	h := newHarness(t, false)
	h.env["GITHUB_ACTOR"] = "ci-bot"
	h.env["GITHUB_RUN_ID"] = "4242"
	steps := [][]string{
		{"install", "--envs", "dev,staging,prod"},
		{"apply", "dev"},
		{"set-image", "dev", "people-service", "9.9.9"},
		{"promote", "dev", "staging", "--yes"},
		{"apply", "prod", "--yes", "--approved-by", "carol", "--ticket", "CHG-1"},
		{"set-image", "prod", "people-service", "8.8.8", "--yes", "--approved-by", "dave", "--ticket", "CHG-2, urgent"},
		{"rollback", "dev"},
	}
	for _, s := range steps {
		if r := h.run("", s...); r.code != 0 {
			t.Fatalf("%s: %s", strings.Join(s, " "), r)
		}
	}

	dev := h.auditChanges("dev")
	install := findChange(t, dev, "traderx install: clone of")
	if install.User != "alice" || install.Release != 1 || install.Result != "ApplyCompleted" || install.RunID == "" {
		t.Errorf("install change: %+v", install)
	}
	setImage := findChange(t, dev, "set-image people-service 9.9.9")
	if setImage.User != "alice" || setImage.Release != 2 || setImage.Result != "ApplyCompleted" ||
		!slices.ContainsFunc(setImage.Gates, func(g string) bool { return strings.Contains(g, "people-service HEALTHY") }) ||
		!slices.ContainsFunc(setImage.Fields, func(f string) bool { return strings.Contains(f, "→ ") && strings.Contains(f, ":9.9.9") }) {
		t.Errorf("set-image change: %+v", setImage)
	}
	rollback := findChange(t, dev, "rollback to release 1")
	if rollback.Release != 3 || rollback.Result != "ApplyCompleted" {
		t.Errorf("rollback change: %+v", rollback)
	}
	if setImage.RolledBackBy == "" || !strings.Contains(setImage.RolledBackBy, "release 3") {
		t.Errorf("set-image not marked as rolled back by release 3: %q", setImage.RolledBackBy)
	}
	if install.RolledBackBy != "" {
		t.Errorf("install marked as rolled back: %q", install.RolledBackBy)
	}

	staging := h.auditChanges("staging")
	promote := findChange(t, staging, "promote from dev")
	if promote.Release != 1 || promote.Result != "ApplyCompleted" || promote.Units["people-service-deployment"] == 0 {
		t.Errorf("promote change: %+v", promote)
	}

	prod := h.auditChanges("prod")
	prodInstall := findChange(t, prod, "traderx install: clone of")
	if prodInstall.Release != 1 || prodInstall.ApprovedBy != "carol" || prodInstall.Ticket != "CHG-1" ||
		!strings.Contains(prodInstall.Confirmation, "GITHUB_ACTOR=ci-bot") || len(prodInstall.Gates) == 0 {
		t.Errorf("prod install, shipped by the approved apply: %+v", prodInstall)
	}
	prodImage := findChange(t, prod, "set-image people-service 8.8.8")
	if prodImage.Release != 2 || prodImage.ApprovedBy != "dave" || prodImage.Ticket != "CHG-2, urgent" ||
		!strings.Contains(prodImage.Confirmation, "--yes in CI (GITHUB_ACTOR=ci-bot GITHUB_RUN_ID=4242)") || prodImage.LocalLog == "" {
		t.Errorf("prod set-image: %+v", prodImage)
	}

	// -o csv: a header and one row per change, RFC 4180 (the ticket has a comma).
	r := h.run("", "audit", "prod", "-o", "csv")
	if r.code != 0 {
		t.Fatalf("audit -o csv: %s", r)
	}
	records, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil {
		t.Fatalf("CSV does not parse: %v\n%s", err, r.stdout)
	}
	if len(records) != len(prod)+1 || !slices.Equal(records[0], rollout.AuditColumns) {
		t.Fatalf("CSV: %d records (want header + %d), header %v", len(records), len(prod), records[0])
	}
	if !slices.ContainsFunc(records[1:], func(row []string) bool { return slices.Contains(row, "CHG-2, urgent") }) {
		t.Errorf("no CSV row carries the ticket whole:\n%s", r.stdout)
	}

	// The local log: intact, then a tampered line, then a deleted one.
	if r := h.run("", "audit", "verify"); r.code != 0 || !strings.Contains(r.stdout, "intact") {
		t.Fatalf("verify of an untouched log: %s", r)
	}
	file := prodImage.LocalLog
	path := filepath.Join(h.logDir, file)
	original := readFile(t, path)
	lines := strings.SplitAfter(original, "\n")
	for _, tc := range []struct {
		name, content, want string
	}{
		{"tampered", strings.Replace(original, `"user":"alice"`, `"user":"mallory"`, 1), "altered"},
		{"deleted", strings.Join(slices.Delete(slices.Clone(lines), 2, 3), ""), "removed"},
	} {
		if err := os.Chmod(path, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		r := h.run("", "audit", "verify")
		if r.code != 1 || !strings.Contains(r.stderr, file) || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("verify of a %s line: want exit 1 naming %s as %s: %s", tc.name, file, tc.want, r)
		}
	}
}

func TestParseWhen(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{in: ""},
		{in: "90d", want: now.Add(-90 * 24 * time.Hour)},
		{in: "12h", want: now.Add(-12 * time.Hour)},
		{in: "30m", want: now.Add(-30 * time.Minute)},
		{in: "2026-07-01", want: time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)},
		{in: "2026-07-01T10:00:00+02:00", want: time.Date(2026, 7, 1, 8, 0, 0, 0, time.UTC)},
		{in: "90 days", wantErr: true},
		{in: "-3d", wantErr: true},
		{in: "2026-13-01", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseWhen(tt.in, now)
		if (err != nil) != tt.wantErr || !got.Equal(tt.want) {
			t.Errorf("parseWhen(%q) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
