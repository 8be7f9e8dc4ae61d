package confighub

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/uuid"
)

// ErrNoCredentials means neither CUB_SERVER/CUB_TOKEN nor a cub config were found.
var ErrNoCredentials = errors.New("no ConfigHub credentials: set CUB_SERVER and CUB_TOKEN or run `cub auth login`")

// ErrApplyOutcomeUnknown is wrapped when an apply request may have reached the
// server but no answer came back: the operation may or may not be queued.
var ErrApplyOutcomeUnknown = errors.New("apply outcome unknown")

// APIError is a non-success HTTP answer from ConfigHub.
type APIError struct {
	Status    int    // HTTP status code
	RequestID string // X-Request-Id response header
	Code      string // StandardErrorResponse.Code
	Message   string // StandardErrorResponse.Message, or the raw body if not JSON
	Method    string
	Path      string // request path below /api, without query
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ConfigHub: HTTP %d", e.Status)
	if e.RequestID != "" {
		fmt.Fprintf(&b, " for req %s", e.RequestID)
	}
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	b.WriteString(": ")
	b.WriteString(msg)
	if e.Status == http.StatusUnauthorized {
		b.WriteString("; authentication problem: run `cub auth login` or check CUB_TOKEN")
	}
	if e.Method != "" {
		fmt.Fprintf(&b, " (%s %s)", e.Method, e.Path)
	}
	return b.String()
}

// IsNotFound reports a 404 anywhere in err's chain.
func IsNotFound(err error) bool { return hasStatus(err, http.StatusNotFound) }

// IsConflict reports a 409 anywhere in err's chain.
func IsConflict(err error) bool { return hasStatus(err, http.StatusConflict) }

// IsUnauthorized reports a 401 anywhere in err's chain.
func IsUnauthorized(err error) bool { return hasStatus(err, http.StatusUnauthorized) }

func hasStatus(err error, status int) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == status
}

// BulkError is returned by bulk calls when any element carries an Error
// (HTTP 207). The successful elements are still returned alongside it.
type BulkError struct {
	Status    int
	RequestID string
	Method    string
	Path      string
	Errors    []*ResponseError
	Total     int
}

func (e *BulkError) Error() string {
	var msgs []string
	for _, re := range e.Errors {
		m := re.Message
		if re.ErrorMetadata != nil && re.ErrorMetadata.EntityID != "" {
			m = fmt.Sprintf("%s %s: %s", re.ErrorMetadata.EntityType, re.ErrorMetadata.EntityID, m)
		}
		msgs = append(msgs, m)
	}
	return fmt.Sprintf("ConfigHub: HTTP %d for req %s: %d of %d elements failed: %s (%s %s)",
		e.Status, e.RequestID, len(e.Errors), e.Total, strings.Join(msgs, "; "), e.Method, e.Path)
}

// OperationError is returned by WaitForOperation when the operation did not
// succeed (Failed, Canceled, Aborted, any *Failed result, or superseded
// without a terminal event of its own).
type OperationError struct {
	OperationID uuid.UUID
	UnitID      uuid.UUID
	Action      string
	Event       *UnitEvent // the terminal event, if any
	Reason      string
}

func (e *OperationError) Error() string {
	if e.Event != nil {
		msg := e.Event.Message
		if msg == "" {
			msg = e.Reason
		}
		return fmt.Sprintf("ConfigHub: %s of unit %s (operation %s, revision %d) ended %s/%s: %s",
			e.Action, e.UnitID, e.OperationID, e.Event.RevisionNum, e.Event.Status, e.Event.Result, msg)
	}
	return fmt.Sprintf("ConfigHub: %s of unit %s (operation %s): %s", e.Action, e.UnitID, e.OperationID, e.Reason)
}

// TransportError is a request that got no HTTP answer (timeout, reset,
// refused). Err keeps the cause (errors.Is works for context errors).
type TransportError struct {
	Method   string
	Path     string
	Attempts int
	Err      error
	unsent   bool // the server surely never saw the request
}

func (e *TransportError) Error() string {
	return fmt.Sprintf("ConfigHub: %s %s failed after %d attempt(s): %v", e.Method, e.Path, e.Attempts, e.Err)
}

func (e *TransportError) Unwrap() error { return e.Err }

// Redact removes secrets from s: every occurrence of each non-empty secret,
// passwords in URL userinfo, and the values of token-like query parameters.
func Redact(s string, secrets ...string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "REDACTED")
		}
	}
	return redactURLsIn(s)
}

// RedactURL renders u without userinfo password and token-like query values.
func RedactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	if c.User != nil {
		c.User = url.User("REDACTED")
	}
	if c.RawQuery != "" {
		q := c.Query()
		changed := false
		for k := range q {
			if isSecretParam(k) {
				q.Set(k, "REDACTED")
				changed = true
			}
		}
		if changed {
			c.RawQuery = q.Encode()
		}
	}
	return c.String()
}

func isSecretParam(k string) bool {
	k = strings.ToLower(k)
	for _, s := range []string{"token", "secret", "password", "passwd", "key", "auth", "signature", "credential"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// redactURLsIn rewrites every http(s) URL found in s with RedactURL, and
// masks "Bearer xxx" fragments.
func redactURLsIn(s string) string {
	var out strings.Builder
	rest := s
	for {
		i := indexURL(rest)
		if i < 0 {
			out.WriteString(rest)
			break
		}
		out.WriteString(rest[:i])
		rest = rest[i:]
		j := strings.IndexAny(rest, " \t\n\"'<>`")
		if j < 0 {
			j = len(rest)
		}
		raw := rest[:j]
		if u, err := url.Parse(raw); err == nil {
			out.WriteString(RedactURL(u))
		} else {
			out.WriteString("REDACTED-URL")
		}
		rest = rest[j:]
	}
	s = out.String()
	for _, pfx := range []string{"Bearer ", "bearer "} {
		for off := 0; ; {
			i := strings.Index(s[off:], pfx)
			if i < 0 {
				break
			}
			start := off + i + len(pfx)
			end := strings.IndexAny(s[start:], " \t\n\"'")
			if end < 0 {
				end = len(s) - start
			}
			if end > 0 && s[start:start+end] != "REDACTED" {
				s = s[:start] + "REDACTED" + s[start+end:]
			}
			off = start + len("REDACTED")
			if off >= len(s) {
				break
			}
		}
	}
	return s
}

func indexURL(s string) int {
	a := strings.Index(s, "http://")
	b := strings.Index(s, "https://")
	switch {
	case a < 0:
		return b
	case b < 0:
		return a
	case a < b:
		return a
	}
	return b
}
