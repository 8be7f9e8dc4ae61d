package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestConfirm(t *testing.T) {
	for in, ok := range map[string]bool{"y\n": true, "YES\n": true, "n\n": false, "\n": false, "": false, "sure\n": false} {
		var out bytes.Buffer
		err := ConfirmFrom(strings.NewReader(in), &out, "Apply to prod")
		if (err == nil) != ok {
			t.Errorf("answer %q: err %v", in, err)
		}
		if !ok && (CodeOf(err) != ExitFailed || !errors.Is(err, ErrNotConfirmed)) {
			t.Errorf("answer %q: want ErrNotConfirmed exit 1, got %v", in, err)
		}
		if !strings.HasPrefix(out.String(), "Apply to prod? [y/N]: ") {
			t.Errorf("prompt %q", out.String())
		}
	}
	// Never prompt without a terminal.
	var out bytes.Buffer
	err := Confirm(strings.NewReader("y\n"), &out, "Apply to prod", "--yes")
	if CodeOf(err) != ExitUsage || !strings.Contains(err.Error(), "pass --yes") || out.Len() != 0 {
		t.Errorf("non-terminal: %v, prompt %q", err, out.String())
	}
}
