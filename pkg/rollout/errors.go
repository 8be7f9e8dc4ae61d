package rollout

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/confighub"
)

// InputError is bad input: an unknown service, an environment not installed,
// unit data that does not parse. Nothing was changed.
type InputError struct {
	Err error
	// Steps are commands that fix it, for the console one per line (the
	// error itself is printed as one line).
	Steps []string
}

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

func inputf(format string, args ...any) error { return &InputError{Err: fmt.Errorf(format, args...)} }

// TierError is a tier that failed: an apply that did not complete after its
// retries, or services that did not become healthy in time. Later tiers
// were not started.
type TierError struct {
	Env      string
	Tier     int
	Services []string
	// Unit and Service name what failed first; Cause is why (the unit
	// event's message, a ConfigHub error, or the failing health checks).
	Unit    string
	Service string
	Cause   string
	// Checks are the failing health checks when the gate failed.
	Checks []check.Check
	// Applied lists the units of the tier that were applied (a half-applied
	// tier names them); Failed the units whose apply failed.
	Applied []string
	Failed  []string
	// Unreachable is set when ConfigHub or the cluster could not be reached.
	Unreachable bool
	// Resume is the command that continues the rollout after a fix.
	Resume string
	Err    error
}

func (e *TierError) Error() string {
	what := e.Unit
	if what == "" {
		what = strings.Join(e.Services, ", ")
	}
	msg := fmt.Sprintf("%s: tier %d failed at %s: %s", e.Env, e.Tier, what, e.Cause)
	if e.Resume != "" {
		msg += "; after fixing it resume with: " + e.Resume
	}
	return msg
}

func (e *TierError) Unwrap() error { return e.Err }

// Report is the multi-line account of the failure for the console.
func (e *TierError) Report() []string {
	lines := []string{fmt.Sprintf("rollout of %s stopped at tier %d (%s)", e.Env, e.Tier, strings.Join(e.Services, ", "))}
	if e.Unit != "" {
		u := "unit " + e.Unit
		if e.Service != "" {
			u += " (service " + e.Service + ")"
		}
		lines = append(lines, "  failed:  "+u)
	}
	lines = append(lines, "  cause:   "+e.Cause)
	for _, c := range e.Checks {
		l := fmt.Sprintf("  check:   %s %s %s: %s", c.Status, c.Target, c.Name, c.Message)
		if c.Hint != "" {
			l += " — " + c.Hint
		}
		lines = append(lines, l)
	}
	if len(e.Failed) > 0 {
		lines = append(lines, "  not applied: "+strings.Join(e.Failed, ", "))
	}
	if len(e.Applied) > 0 {
		lines = append(lines, "  applied in this tier (half-applied tier): "+strings.Join(e.Applied, ", "))
	}
	if e.Resume != "" {
		lines = append(lines, "  resume:  "+e.Resume+"   (units already live at head are skipped)")
	}
	return lines
}

// VerdictError is an environment not HEALTHY or DEGRADED at the end of an
// apply: what was applied stays, and no release was recorded.
type VerdictError struct {
	Env     string
	Verdict check.Verdict
	// Why it failed ("not healthy after 2m0s"); Reason and Checks are the
	// report's.
	Why    string
	Reason string
	Checks []check.Check
	Resume string
}

func (e *VerdictError) Error() string {
	msg := fmt.Sprintf("%s is %s at the end of the rollout (%s): %s", e.Env, e.Verdict, e.Why, e.Reason)
	if e.Resume != "" {
		msg += "; after fixing it re-run: " + e.Resume
	}
	return msg
}

// IsUnreachable reports errors meaning ConfigHub (or the cluster) could not be
// reached or did not answer usefully: transport failures, 5xx, 429, timeouts.
func IsUnreachable(err error) bool {
	if err == nil {
		return false
	}
	var te *confighub.TransportError
	if errors.As(err, &te) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, confighub.ErrApplyOutcomeUnknown) {
		return true
	}
	var ae *confighub.APIError
	if errors.As(err, &ae) {
		return ae.Status >= 500 || ae.Status == http.StatusTooManyRequests ||
			ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden
	}
	var ue *unreachableError
	return errors.As(err, &ue)
}

// IsClusterUnreadable reports a failure to read the cluster the health gates
// judge (as opposed to ConfigHub being unreachable).
func IsClusterUnreadable(err error) bool {
	var ue *unreachableError
	return errors.As(err, &ue)
}

// unreachableError marks a cluster read failure of the health gate.
type unreachableError struct{ err error }

func (e *unreachableError) Error() string { return e.err.Error() }
func (e *unreachableError) Unwrap() error { return e.err }

// retryable reports whether repeating an apply may help: not for 4xx answers
// (no target, gated, bad request) other than 409 and 429.
// inProgressError is an apply still Progressing when the wait ran out.
type inProgressError struct {
	unit     string
	revision int64
	timeout  time.Duration
	err      error
}

func (e *inProgressError) Error() string {
	return fmt.Sprintf("apply of %s revision %d still in progress after %s (ConfigHub's worker completes it only once its objects are ready)",
		e.unit, e.revision, e.timeout)
}

func (e *inProgressError) Unwrap() error { return e.err }

// stuckError stops a tier's waits: pods of the change failed in a way
// waiting does not cure.
type stuckError struct{ checks []check.Check }

func (e *stuckError) Error() string {
	return fmt.Sprintf("%d persistent pod failure(s)", len(e.checks))
}

func retryable(err error) bool {
	var ip *inProgressError
	if errors.As(err, &ip) {
		return false // queuing it again would only duplicate the worker's own retries
	}
	var ae *confighub.APIError
	if errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500 {
		return ae.Status == http.StatusConflict || ae.Status == http.StatusTooManyRequests
	}
	var ie *InputError
	return !errors.As(err, &ie)
}

// cause is the one-line reason of an apply failure: the unit event's message
// when the operation failed in the worker.
func cause(err error) string {
	var oe *confighub.OperationError
	if errors.As(err, &oe) && oe.Event != nil && oe.Event.Message != "" {
		return fmt.Sprintf("apply of revision %d %s: %s", oe.Event.RevisionNum, strings.ToLower(oe.Event.Result), oe.Event.Message)
	}
	return err.Error()
}
