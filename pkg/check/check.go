// Package check is the result model shared by health checks and validations:
// a Report of named checks, the verdict drawn from them, the exit code a
// command returns for it, and every output format (see Render).
//
// Exit codes of the health and validate commands:
//
//	Code  Constant         Meaning
//	0     ExitOK           HEALTHY, or DEGRADED unless warnings fail the run (FailOnWarn)
//	1     ExitFailed       UNHEALTHY, or DEGRADED with FailOnWarn
//	2     ExitUsage        bad arguments or flags; nothing was checked
//	3     ExitUnavailable  the checks could not run (cluster or ConfigHub unreachable, no access)
//
// Codes 2 and 3 are decided by the commands, never by a Report: a report that
// exists was evaluated, so it only ever yields 0 or 1.
package check

import (
	"fmt"
	"math"
	"strings"
)

const (
	ExitOK          = 0
	ExitFailed      = 1
	ExitUsage       = 2
	ExitUnavailable = 3
)

// Kinds of report. The kind names the run in output ("checks" or "validations").
const (
	KindHealth   = "health"
	KindValidate = "validate"
)

// Status is the outcome of one check.
type Status string

const (
	StatusPass Status = "PASS"
	StatusWarn Status = "WARN"
	StatusFail Status = "FAIL"
	// StatusSkip marks a check that could not apply (e.g. no pods to inspect);
	// it never counts as passed.
	StatusSkip Status = "SKIP"
)

// Symbol is the one-glyph mark of the status, so every view of a check looks
// alike. Each is one cell wide in every terminal (⚠ is two in some), so
// columns stay aligned.
func (s Status) Symbol() string {
	switch s {
	case StatusPass:
		return "✓"
	case StatusWarn:
		return "!"
	case StatusSkip:
		return "-"
	default:
		return "✗"
	}
}

// Check is one named check of one target.
type Check struct {
	// Suite groups related checks: "deployment", "pods", or a validation suite
	// such as "03-namespace".
	Suite string `json:"suite"`
	// Name is the check, e.g. "rollout-complete".
	Name string `json:"name"`
	// Target is what was checked: a service name, or "namespace/traderx-dev".
	Target string `json:"target"`
	Status Status `json:"status"`
	// Message is what was found, on one line.
	Message string `json:"message"`
	// Hint is what to do about it; empty when the check passed.
	Hint string `json:"hint,omitempty"`
}

// label names the check in a one-line reason.
func (c Check) label() string {
	return strings.TrimSpace(c.Target + " " + c.Name)
}

// Verdict sums up a report.
type Verdict string

const (
	VerdictHealthy   Verdict = "HEALTHY"   // no failure, no warning
	VerdictDegraded  Verdict = "DEGRADED"  // warnings, no failure
	VerdictUnhealthy Verdict = "UNHEALTHY" // at least one failure
)

// Summary counts the checks of a report by status.
type Summary struct {
	Total    int `json:"total"`
	Passed   int `json:"passed"`
	Warnings int `json:"warnings"`
	Failed   int `json:"failed"`
	Skipped  int `json:"skipped"`
	// SuccessRate is Passed over the evaluated (not skipped) checks, in percent,
	// rounded to one decimal. It is 100 when nothing was evaluated, matching the
	// HEALTHY verdict of such a report; Reason and the table say that nothing ran.
	SuccessRate float64 `json:"successRate"`
}

// evaluated is the number of checks that had an outcome.
func (s Summary) evaluated() int { return s.Total - s.Skipped }

// Report is the result of one health or validation run.
type Report struct {
	Kind        string `json:"kind"`
	Environment string `json:"environment"`
	Namespace   string `json:"namespace"`
	// Cluster is the cluster the report judged; nil when none was read
	// (validate --local or -f).
	Cluster *Cluster `json:"cluster,omitempty"`
	Checks  []Check  `json:"checks"`
	// Summary, Verdict and Reason are derived from Checks by Finalize.
	Summary Summary `json:"summary"`
	Verdict Verdict `json:"verdict"`
	// Reason says on one line why the report has its verdict.
	Reason string `json:"reason"`
}

// Cluster names the cluster a report judged, so a reader can tell prod's
// cluster from dev's.
type Cluster struct {
	// Context is the kubeconfig context read.
	Context string `json:"context"`
	// Server is the context's API server URL.
	Server string `json:"server,omitempty"`
	// Source says why this context: "flag", "config file", "ConfigHub target"
	// or "current context".
	Source string `json:"source,omitempty"`
}

// String is the cluster on one line: "prod-eu (https://10.0.0.1:6443, from the config file)".
func (c Cluster) String() string {
	var in []string
	if c.Server != "" {
		in = append(in, c.Server)
	}
	if c.Source != "" {
		in = append(in, "from the "+c.Source)
	}
	if len(in) == 0 {
		return c.Context
	}
	return c.Context + " (" + strings.Join(in, ", ") + ")"
}

// NewReport starts an empty report; kind is KindHealth or KindValidate.
func NewReport(kind, env, namespace string) *Report {
	return &Report{Kind: kind, Environment: env, Namespace: namespace, Checks: []Check{}}
}

// Add appends checks in the order they should be shown.
func (r *Report) Add(c ...Check) {
	r.Checks = append(r.Checks, c...)
}

// Finalize derives Summary, Verdict and Reason from Checks. It may be called
// any number of times, e.g. again after more checks were added.
//
// A check whose status is none of the four known ones counts as failed: a bug
// in a check must not pass as health.
func (r *Report) Finalize() {
	if r.Checks == nil {
		r.Checks = []Check{} // "checks": [] rather than null for JSON consumers
	}
	var s Summary
	var failed, warned []Check
	for _, c := range r.Checks {
		s.Total++
		switch c.Status {
		case StatusPass:
			s.Passed++
		case StatusWarn:
			s.Warnings++
			warned = append(warned, c)
		case StatusSkip:
			s.Skipped++
		default:
			s.Failed++
			failed = append(failed, c)
		}
	}
	s.SuccessRate = 100
	if n := s.evaluated(); n > 0 {
		s.SuccessRate = math.Round(float64(s.Passed)*1000/float64(n)) / 10
	}
	r.Summary = s

	switch {
	case s.Failed > 0:
		r.Verdict = VerdictUnhealthy
	case s.Warnings > 0:
		r.Verdict = VerdictDegraded
	default:
		r.Verdict = VerdictHealthy
	}
	r.Reason = r.reason(failed, warned)
}

// reasonItems is how many checks a reason names before "and N more"; enough to
// act on, short enough for one terminal line.
const reasonItems = 3

func (r *Report) reason(failed, warned []Check) string {
	s := r.Summary
	noun := r.noun()
	switch {
	case s.Total == 0:
		return "no " + noun + " ran"
	case s.Failed > 0:
		out := fmt.Sprintf("%s failed: %s", count(s.Failed, noun), labels(failed))
		if s.Warnings > 0 {
			out += fmt.Sprintf("; %s", count(s.Warnings, "warning"))
		}
		return out
	case s.Warnings > 0:
		return fmt.Sprintf("%s: %s", count(s.Warnings, "warning"), labels(warned))
	case s.evaluated() == 0:
		return fmt.Sprintf("nothing evaluated: all %s skipped", count(s.Total, noun))
	case s.Skipped > 0:
		return fmt.Sprintf("%s passed, %d skipped", count(s.Passed, noun), s.Skipped)
	case s.Passed == 1:
		return count(1, noun) + " passed"
	default:
		return fmt.Sprintf("all %s passed", count(s.Passed, noun))
	}
}

// noun is the plural word for the report's checks.
func (r *Report) noun() string {
	if r.Kind == KindValidate {
		return "validations"
	}
	return "checks"
}

// count renders "1 check" or "3 checks" from a plural noun.
func count(n int, plural string) string {
	if n == 1 {
		return "1 " + strings.TrimSuffix(plural, "s")
	}
	if !strings.HasSuffix(plural, "s") {
		plural += "s"
	}
	return fmt.Sprintf("%d %s", n, plural)
}

func labels(cs []Check) string {
	names := make([]string, 0, reasonItems)
	for _, c := range cs[:min(len(cs), reasonItems)] {
		names = append(names, c.label())
	}
	out := strings.Join(names, ", ")
	if rest := len(cs) - reasonItems; rest > 0 {
		out += fmt.Sprintf(" and %d more", rest)
	}
	return out
}

// FailOn is the least severe status that makes a run fail.
type FailOn string

const (
	FailOnFail FailOn = "fail" // the default: only failures fail the run
	FailOnWarn FailOn = "warn" // warnings fail the run too, e.g. before a promotion
)

// ParseFailOn reads a fail-on level; empty means the default, FailOnFail.
func ParseFailOn(s string) (FailOn, error) {
	switch f := FailOn(strings.ToLower(strings.TrimSpace(s))); f {
	case "":
		return FailOnFail, nil
	case FailOnFail, FailOnWarn:
		return f, nil
	}
	return "", fmt.Errorf("invalid fail-on level %q: want %q or %q", s, FailOnFail, FailOnWarn)
}

// ExitCode is the process exit code for the report: ExitFailed when the
// verdict crosses the fail-on level, ExitOK otherwise.
func (r Report) ExitCode(f FailOn) int {
	r.Finalize() // a copy: the caller's report is not changed
	if r.fails(f) {
		return ExitFailed
	}
	return ExitOK
}

func (r Report) fails(f FailOn) bool {
	switch r.Verdict {
	case VerdictUnhealthy:
		return true
	case VerdictDegraded:
		return f == FailOnWarn
	}
	return false
}

// Examples names at most three items and counts the rest, so a message about
// any number of units stays one line.
func Examples(items []string) string { return ExamplesJoined(items, ", ") }

// ExamplesJoined is Examples with another separator ("; " between sentences).
func ExamplesJoined(items []string, sep string) string {
	if len(items) <= 3 {
		return strings.Join(items, sep)
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:3], sep), len(items)-3)

}
