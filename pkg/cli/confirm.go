package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrNotConfirmed is returned when the user answers anything but yes.
var ErrNotConfirmed = errors.New("not confirmed; nothing was changed")

// Confirm asks a yes/no question on out and reads the answer from in. It
// never prompts when in is not a terminal (a pipe, CI, a script): then it
// fails with a usage error telling the caller to pass the flag that skips
// the question (e.g. "--yes"). "y" and "yes" (any case) confirm; anything
// else, or end of input, is ErrNotConfirmed (exit 1).
func Confirm(in io.Reader, out io.Writer, question, skipFlag string) error {
	if !IsTerminal(in) {
		return Usagef("%s needs confirmation, but stdin is not a terminal: pass %s to confirm", question, skipFlag)
	}
	return ConfirmFrom(in, out, question)
}

// ConfirmFrom prompts without the terminal check (tests, callers that
// checked already).
func ConfirmFrom(in io.Reader, out io.Writer, question string) error {
	fmt.Fprintf(out, "%s? [y/N]: ", question)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(out)
		return Failed(ErrNotConfirmed)
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return Failed(ErrNotConfirmed)
}
