package rulecheck

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// promtool returns the slim promtool: $PROMTOOL, or the cached build of
// build-promtool.sh (built on first use, once per test binary).
var promtoolPath = sync.OnceValues(func() (string, error) {
	if p := os.Getenv("PROMTOOL"); p != "" {
		return p, nil
	}
	cmd := exec.Command("bash", "../build-promtool.sh")
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build-promtool.sh: %w", err)
	}
	return strings.TrimSpace(stdout.String()), nil
})

func promtool(t *testing.T) string {
	t.Helper()
	p, err := promtoolPath()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// copyPrometheus copies rules/ and tests/ into a temp dir, keeping their layout.
func copyPrometheus(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, sub := range []string{"rules", "tests"} {
		src := filepath.Join("..", "..", "prometheus", sub)
		entries, err := os.ReadDir(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(src, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, sub, e.Name()), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

func edit(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	if err := os.WriteFile(path, bytes.Replace(b, []byte(old), []byte(new), 1), 0o644); err != nil {
		t.Fatal(err)
	}
}

// run runs promtool in dir and returns its exit code and combined output.
func run(t *testing.T, dir string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(promtool(t), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		}
		t.Fatal(err)
	}
	return 0, string(out)
}

func glob(t *testing.T, dir, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil || len(m) == 0 {
		t.Fatalf("no files match %s in %s", pattern, dir)
	}
	for i := range m {
		m[i], _ = filepath.Rel(dir, m[i])
	}
	return m
}

// The committed rules passing check and test is monitoring/check.sh's job
// (make monitoring runs it first); these tests prove each kind of mistake
// fails, so neither run is repeated here.

// A syntax error in one expression fails `promtool check rules`.
func TestBrokenRuleExpressionFails(t *testing.T) {
	dir := copyPrometheus(t)
	edit(t, filepath.Join(dir, "rules", "availability.yml"),
		`sum by (namespace) (kube_deployment_status_replicas_available{`,
		`sum by (namespace (kube_deployment_status_replicas_available{`)
	code, out := run(t, dir, append([]string{"check", "rules", "--lint=all", "--lint-fatal"}, glob(t, dir, "rules/*.yml")...)...)
	t.Logf("promtool check rules (broken expression): exit %d\n%s", code, out)
	if code == 0 {
		t.Fatal("promtool accepted a broken rule expression")
	}
	if !strings.Contains(out, "parse error") {
		t.Errorf("output does not report a parse error")
	}
}

// A valid but wrong expression (a Down alert that fires while the service is
// up) fails `promtool test rules`.
func TestWrongRuleFailsItsUnitTests(t *testing.T) {
	dir := copyPrometheus(t)
	edit(t, filepath.Join(dir, "rules", "availability.yml"),
		`deployment=~"trade-service(-blue|-green)?"}) == 0`,
		`deployment=~"trade-service(-blue|-green)?"}) >= 0`)
	code, out := run(t, dir, "test", "rules", "tests/availability_test.yml")
	t.Logf("promtool test rules (wrong expression): exit %d\n%s", code, out)
	if code == 0 {
		t.Fatal("promtool test rules passed with a wrong rule")
	}
	if !strings.Contains(out, "TradeServiceDown") {
		t.Errorf("output does not name the failing alert")
	}
}

// Duplicate rules are a lint error, fatal with --lint-fatal (exit 3).
func TestDuplicateRuleFailsLint(t *testing.T) {
	dir := copyPrometheus(t)
	path := filepath.Join(dir, "rules", "availability.yml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Append a second group holding the same rules.
	dup := strings.Replace(string(b), "groups:\n", "", 1)
	dup = strings.Replace(dup, "name: traderx-availability", "name: traderx-availability-copy", 1)
	if err := os.WriteFile(path, []byte(string(b)+dup[strings.Index(dup, "  - name:"):]), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out := run(t, dir, "check", "rules", "--lint=all", "--lint-fatal", "rules/availability.yml")
	t.Logf("promtool check rules (duplicate rules): exit %d\n%s", code, out)
	if code != 3 {
		t.Fatalf("exit %d, want 3 (lint error)", code)
	}
}

// The burn-rate tests pin exact firing times: a page alert generated with the
// 6h window's burn rate on the 1h window (6× instead of 14.4×) fires one probe
// too early, at the first failure of the 30 s outage, and fails them.
func TestWrongBurnRateFailsItsUnitTests(t *testing.T) {
	dir := copyPrometheus(t)
	edit(t, filepath.Join(dir, "rules", "slo.yml"),
		"(slo:sli_error:ratio_rate5m{slo=\"trade-service-availability\"} > (14.4 * 0.0005))\n"+
			"          and\n"+
			"          (slo:sli_error:ratio_rate1h{slo=\"trade-service-availability\"} > (14.4 * 0.0005))",
		"(slo:sli_error:ratio_rate5m{slo=\"trade-service-availability\"} > (6 * 0.0005))\n"+
			"          and\n"+
			"          (slo:sli_error:ratio_rate1h{slo=\"trade-service-availability\"} > (6 * 0.0005))")
	code, out := run(t, dir, "test", "rules", "tests/slo_page_test.yml")
	t.Logf("promtool test rules (wrong burn rate): exit %d\n%s", code, out)
	if code == 0 {
		t.Fatal("promtool test rules passed with a wrong burn rate")
	}
	if !strings.Contains(out, "ErrorBudgetBurnPage") || !strings.Contains(out, "time: 6h") {
		t.Errorf("output does not name the alert firing early at 6h")
	}
}
