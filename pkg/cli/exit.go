// Package cli is the plumbing both plugins share: exit codes, output and colour
// flags, confirmation prompts, version and completion. It holds no domain logic.
package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/finos/traderx-plugins/pkg/check"
)

// Exit codes shared by every command of both plugins; pkg/check owns them
// because a report's verdict maps to one.
const (
	ExitOK = check.ExitOK
	// ExitFailed: the command ran and its verdict is negative (an unhealthy
	// environment, a failed validation, a failed rollout).
	ExitFailed = check.ExitFailed
	// ExitUsage: bad input; nothing was read or changed.
	ExitUsage = check.ExitUsage
	// ExitUnavailable: the command could not evaluate or act (cluster or
	// ConfigHub unreachable, forbidden, timed out).
	ExitUnavailable = check.ExitUnavailable
)

// ExitCodesHelp documents the exit codes in --help.
const ExitCodesHelp = `Exit codes:
  0  success (HEALTHY or DEGRADED for checks)
  1  the verdict is negative (UNHEALTHY, a validation failed, a change failed)
  2  bad input: unknown environment or service, bad flag; nothing was done
  3  could not evaluate: cluster or ConfigHub unreachable, forbidden, timed out`

// ExitError carries the exit code an error should end the process with.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return ""
	}
	return e.Err.Error()
}
func (e *ExitError) Unwrap() error { return e.Err }

// UsageError marks err as bad input (exit 2).
func UsageError(err error) error { return &ExitError{Code: ExitUsage, Err: err} }

// Usagef formats a bad-input error (exit 2).
func Usagef(format string, args ...any) error { return UsageError(fmt.Errorf(format, args...)) }

// Unavailable marks err as "could not evaluate" (exit 3).
func Unavailable(err error) error { return &ExitError{Code: ExitUnavailable, Err: err} }

// Failed marks err as a negative verdict (exit 1).
func Failed(err error) error { return &ExitError{Code: ExitFailed, Err: err} }

// SilentExit ends the process with code after the command already reported
// everything on its own (e.g. an UNHEALTHY report).
func SilentExit(code int) error { return &ExitError{Code: code} }

// CodeOf returns the exit code for an error returned by a command.
func CodeOf(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return ExitFailed
}

// Execute runs a root command and returns its exit code, printing errors as
// one line on stderr. Flag and argument errors from cobra are bad input.
func Execute(root *cobra.Command, args []string, stderr io.Writer) int {
	root.SetArgs(args)
	root.SilenceErrors = true
	root.SilenceUsage = true
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return UsageError(err) })
	cmd, err := root.ExecuteC()
	if err == nil {
		return ExitOK
	}
	code := CodeOf(err)
	var ee *ExitError
	if !errors.As(err, &ee) {
		// cobra reports unknown commands and wrong argument counts as plain errors.
		if isCobraUsageError(err) {
			code = ExitUsage
		}
	}
	if msg := err.Error(); msg != "" {
		hint := ""
		if code == ExitUsage && cmd != nil {
			hint = fmt.Sprintf(" (see '%s --help')", cmd.CommandPath())
		}
		fmt.Fprintf(stderr, "error: %s%s\n", oneLine(msg), hint)
	}
	return code
}

func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "requires at most", "received ", "unknown flag", "unknown shorthand", "invalid argument"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}
