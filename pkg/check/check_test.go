package check

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func chk(target, name string, s Status) Check {
	return Check{Suite: "deployment", Name: name, Target: target, Status: s, Message: "m"}
}

func TestFinalize(t *testing.T) {
	tests := []struct {
		name        string
		kind        string
		checks      []Check
		wantSummary Summary
		wantVerdict Verdict
		wantReason  string
		wantExit    int // FailOnFail
		wantExitW   int // FailOnWarn
	}{
		{
			name:        "empty report",
			wantSummary: Summary{SuccessRate: 100},
			wantVerdict: VerdictHealthy,
			wantReason:  "no checks ran",
		},
		{
			name:        "all passed",
			checks:      []Check{chk("a", "x", StatusPass), chk("b", "x", StatusPass)},
			wantSummary: Summary{Total: 2, Passed: 2, SuccessRate: 100},
			wantVerdict: VerdictHealthy,
			wantReason:  "all 2 checks passed",
		},
		{
			name:        "one passed",
			kind:        KindValidate,
			checks:      []Check{chk("a", "x", StatusPass)},
			wantSummary: Summary{Total: 1, Passed: 1, SuccessRate: 100},
			wantVerdict: VerdictHealthy,
			wantReason:  "1 validation passed",
		},
		{
			name:        "all skipped",
			checks:      []Check{chk("a", "x", StatusSkip), chk("b", "x", StatusSkip)},
			wantSummary: Summary{Total: 2, Skipped: 2, SuccessRate: 100},
			wantVerdict: VerdictHealthy,
			wantReason:  "nothing evaluated: all 2 checks skipped",
		},
		{
			name:        "passed and skipped",
			checks:      []Check{chk("a", "x", StatusPass), chk("b", "x", StatusSkip)},
			wantSummary: Summary{Total: 2, Passed: 1, Skipped: 1, SuccessRate: 100},
			wantVerdict: VerdictHealthy,
			wantReason:  "1 check passed, 1 skipped",
		},
		{
			name:        "warnings only",
			checks:      []Check{chk("a", "x", StatusPass), chk("b", "y", StatusWarn), chk("c", "z", StatusSkip)},
			wantSummary: Summary{Total: 3, Passed: 1, Warnings: 1, Skipped: 1, SuccessRate: 50},
			wantVerdict: VerdictDegraded,
			wantReason:  "1 warning: b y",
			wantExitW:   ExitFailed,
		},
		{
			name:        "failure and warning",
			checks:      []Check{chk("a", "x", StatusFail), chk("b", "y", StatusWarn), chk("c", "z", StatusPass)},
			wantSummary: Summary{Total: 3, Passed: 1, Warnings: 1, Failed: 1, SuccessRate: 33.3},
			wantVerdict: VerdictUnhealthy,
			wantReason:  "1 check failed: a x; 1 warning",
			wantExit:    ExitFailed,
			wantExitW:   ExitFailed,
		},
		{
			name: "many failures are truncated",
			kind: KindValidate,
			checks: []Check{
				chk("a", "x", StatusFail), chk("b", "x", StatusFail), chk("c", "x", StatusFail),
				chk("d", "x", StatusFail), chk("e", "x", StatusFail), chk("f", "x", StatusWarn), chk("g", "x", StatusWarn),
			},
			wantSummary: Summary{Total: 7, Warnings: 2, Failed: 5},
			wantVerdict: VerdictUnhealthy,
			wantReason:  "5 validations failed: a x, b x, c x and 2 more; 2 warnings",
			wantExit:    ExitFailed,
			wantExitW:   ExitFailed,
		},
		{
			name:        "unknown status counts as failed",
			checks:      []Check{chk("a", "x", ""), chk("b", "y", StatusPass)},
			wantSummary: Summary{Total: 2, Passed: 1, Failed: 1, SuccessRate: 50},
			wantVerdict: VerdictUnhealthy,
			wantReason:  "1 check failed: a x",
			wantExit:    ExitFailed,
			wantExitW:   ExitFailed,
		},
		{
			name:        "success rate rounds to one decimal",
			checks:      append(repeat(chk("a", "x", StatusPass), 14), chk("b", "y", StatusWarn)),
			wantSummary: Summary{Total: 15, Passed: 14, Warnings: 1, SuccessRate: 93.3},
			wantVerdict: VerdictDegraded,
			wantReason:  "1 warning: b y",
			wantExitW:   ExitFailed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind := tt.kind
			if kind == "" {
				kind = KindHealth
			}
			r := NewReport(kind, "dev", "traderx-dev")
			r.Add(tt.checks...)
			if got, want := r.ExitCode(FailOnFail), tt.wantExit; got != want {
				t.Errorf("ExitCode(fail) before Finalize = %d, want %d", got, want)
			}
			r.Finalize()
			r.Finalize() // idempotent
			if diff := cmp.Diff(tt.wantSummary, r.Summary); diff != "" {
				t.Errorf("Summary (-want +got):\n%s", diff)
			}
			if r.Verdict != tt.wantVerdict {
				t.Errorf("Verdict = %s, want %s", r.Verdict, tt.wantVerdict)
			}
			if r.Reason != tt.wantReason {
				t.Errorf("Reason = %q, want %q", r.Reason, tt.wantReason)
			}
			if got := r.ExitCode(FailOnFail); got != tt.wantExit {
				t.Errorf("ExitCode(fail) = %d, want %d", got, tt.wantExit)
			}
			if got := r.ExitCode(""); got != tt.wantExit {
				t.Errorf("ExitCode(\"\") = %d, want %d", got, tt.wantExit)
			}
			if got := r.ExitCode(FailOnWarn); got != tt.wantExitW {
				t.Errorf("ExitCode(warn) = %d, want %d", got, tt.wantExitW)
			}
		})
	}
}

func repeat(c Check, n int) []Check {
	out := make([]Check, n)
	for i := range out {
		out[i] = c
	}
	return out
}

func TestFinalizeAfterAdd(t *testing.T) {
	r := NewReport(KindHealth, "dev", "traderx-dev")
	r.Add(chk("a", "x", StatusPass))
	r.Finalize()
	r.Add(chk("b", "y", StatusFail))
	r.Finalize()
	if r.Verdict != VerdictUnhealthy || r.Summary.Total != 2 {
		t.Errorf("after second Finalize: verdict %s, total %d; want UNHEALTHY, 2", r.Verdict, r.Summary.Total)
	}
}

func TestParseFailOn(t *testing.T) {
	tests := []struct {
		in      string
		want    FailOn
		wantErr string
	}{
		{in: "", want: FailOnFail},
		{in: "fail", want: FailOnFail},
		{in: "warn", want: FailOnWarn},
		{in: " WARN ", want: FailOnWarn},
		{in: "warning", wantErr: `invalid fail-on level "warning": want "fail" or "warn"`},
		{in: "error", wantErr: `invalid fail-on level "error": want "fail" or "warn"`},
	}
	for _, tt := range tests {
		got, err := ParseFailOn(tt.in)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("ParseFailOn(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseFailOn(%q) = %q, %v; want %q, nil", tt.in, got, err, tt.want)
		}
	}
}

func TestParseFormat(t *testing.T) {
	tests := []struct {
		in      string
		want    Format
		wantErr string
	}{
		{in: "", want: FormatTable},
		{in: "table", want: FormatTable},
		{in: "json", want: FormatJSON},
		{in: "YAML", want: FormatYAML},
		{in: "junit", want: FormatJUnit},
		{in: "xml", wantErr: `invalid output format "xml": want one of table, wide, json, yaml, junit`},
		{in: "yml", wantErr: `invalid output format "yml": want one of table, wide, json, yaml, junit`},
	}
	for _, tt := range tests {
		got, err := ParseFormat(tt.in)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("ParseFormat(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q, nil", tt.in, got, err, tt.want)
		}
	}
}

func TestStatusSymbol(t *testing.T) {
	got := []string{StatusPass.Symbol(), StatusWarn.Symbol(), StatusFail.Symbol(), StatusSkip.Symbol(), Status("?").Symbol()}
	want := []string{"✓", "!", "✗", "-", "✗"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("symbols (-want +got):\n%s", diff)
	}
}
