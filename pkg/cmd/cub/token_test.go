package cub

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// No command prints or logs the ConfigHub token: not on stdout, not on
// stderr with debug logging on, not in the run's log file or its audit
// records — on success and on failure.
func TestTokenNeverAppears(t *testing.T) {
	h := newHarness(t, false)
	token := h.srv.Token
	commands := [][]string{
		{"version"},
		{"install"},
		{"install", "--dry-run"},
		{"apply", "dev"},
		{"status", "dev", "-o", "json"},
		{"history", "dev"},
		{"history", "dev", "trade-service"},
		{"promote", "dev", "staging", "--dry-run"},
		{"rollback", "dev", "--dry-run"},
		{"rollback", "dev", "7"},
		{"set-image", "dev", "people-service", "1.2", "--dry-run"},
		{"scale", "dev", "people-service", "2", "--dry-run"},
		{"set-env", "dev", "people-service", "LOG_LEVEL=debug", "--dry-run"},
		{"restart", "dev", "people-service", "--dry-run"},
		{"diff", "dev", "staging"},
		{"blue-green", "trade-service", "2.0", "dev", "--dry-run"},
		{"blue-green", "status", "trade-service", "dev"},
		{"apply", "qa"},
	}
	debug := 0
	for _, args := range commands {
		r := h.run("", append(args, "-v")...)
		if strings.Contains(r.stdout, token) || strings.Contains(r.stderr, token) {
			t.Errorf("%v printed the token:\n%s", args, r)
		}
		if strings.Contains(r.stderr, "DEBUG") {
			debug++
		}
	}
	if debug < len(commands)/2 {
		t.Errorf("only %d of %d runs logged at debug level: the check would prove little", debug, len(commands))
	}
	// A rejected token is not echoed back either.
	const wrong = "wrong-token-4f9c2e7a1b"
	h.env["CUB_TOKEN"] = wrong
	r := h.run("", "status", "dev", "-v")
	if r.code != 3 || strings.Contains(r.stdout+r.stderr, wrong) {
		t.Errorf("rejected token: want exit 3 without echoing it: %s", r)
	}
	files, err := filepath.Glob(filepath.Join(h.logDir, "*"))
	if err != nil || len(files) < len(commands)-2 {
		t.Fatalf("log files: %v %v", files, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), token) || strings.Contains(string(data), wrong) {
			t.Errorf("%s holds a token", f)
		}
		if strings.Contains(string(data), `"audit"`) && !strings.Contains(string(data), "traderx-tester") && !strings.Contains(string(data), "alice") {
			t.Errorf("%s has audit records without the user", f)
		}
	}
}
