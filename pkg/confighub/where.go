package confighub

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// WhereBuilder builds a ConfigHub `where` expression: relations joined by AND.
// The server has no escape mechanism, so a string literal containing ' or \
// is refused: Build returns an error, and String returns an expression that
// every server rejects (never one that matches everything).
type WhereBuilder struct {
	parts []string
	err   error
}

// Where starts an empty expression.
func Where() *WhereBuilder { return &WhereBuilder{} }

// invalidWherePrefix marks the String of a builder that failed; the client
// refuses to send it.
const invalidWherePrefix = "INVALID-WHERE "

func (w *WhereBuilder) rel(attr, op string, v any) *WhereBuilder {
	if w.err != nil {
		return w
	}
	if err := checkAttr(attr); err != nil {
		w.err = err
		return w
	}
	lit, err := Literal(v)
	if err != nil {
		w.err = fmt.Errorf("where %s %s: %w", attr, op, err)
		return w
	}
	w.parts = append(w.parts, attr+" "+op+" "+lit)
	return w
}

// Eq adds `attr = literal`.
func (w *WhereBuilder) Eq(attr string, v any) *WhereBuilder { return w.rel(attr, "=", v) }

// Ne adds `attr != literal`.
func (w *WhereBuilder) Ne(attr string, v any) *WhereBuilder { return w.rel(attr, "!=", v) }

// Lt adds `attr < literal`.
func (w *WhereBuilder) Lt(attr string, v any) *WhereBuilder { return w.rel(attr, "<", v) }

// Le adds `attr <= literal`.
func (w *WhereBuilder) Le(attr string, v any) *WhereBuilder { return w.rel(attr, "<=", v) }

// Gt adds `attr > literal`.
func (w *WhereBuilder) Gt(attr string, v any) *WhereBuilder { return w.rel(attr, ">", v) }

// Ge adds `attr >= literal`.
func (w *WhereBuilder) Ge(attr string, v any) *WhereBuilder { return w.rel(attr, ">=", v) }

// Like adds `attr LIKE 'pattern'` (% and _ wildcards).
func (w *WhereBuilder) Like(attr, pattern string) *WhereBuilder { return w.rel(attr, "LIKE", pattern) }

// In adds `attr IN (a, b, …)`. An empty list is an error (it would match nothing
// on some servers and be a syntax error on others).
func (w *WhereBuilder) In(attr string, vals ...any) *WhereBuilder {
	if w.err != nil {
		return w
	}
	if err := checkAttr(attr); err != nil {
		w.err = err
		return w
	}
	if len(vals) == 0 {
		w.err = fmt.Errorf("where %s IN: empty list", attr)
		return w
	}
	lits := make([]string, 0, len(vals))
	for _, v := range vals {
		l, err := Literal(v)
		if err != nil {
			w.err = fmt.Errorf("where %s IN: %w", attr, err)
			return w
		}
		lits = append(lits, l)
	}
	w.parts = append(w.parts, attr+" IN ("+strings.Join(lits, ", ")+")")
	return w
}

// InStrings is In for a string slice.
func (w *WhereBuilder) InStrings(attr string, vals []string) *WhereBuilder {
	anys := make([]any, len(vals))
	for i, v := range vals {
		anys[i] = v
	}
	return w.In(attr, anys...)
}

// Raw adds a relation verbatim, e.g. "HeadRevisionNum > LiveRevisionNum". It
// is refused if it contains a backslash or unbalanced quotes.
func (w *WhereBuilder) Raw(expr string) *WhereBuilder {
	if w.err != nil {
		return w
	}
	expr = strings.TrimSpace(expr)
	if expr == "" {
		return w
	}
	if strings.ContainsRune(expr, '\\') || strings.Count(expr, "'")%2 != 0 {
		w.err = fmt.Errorf("where: raw relation %q has a backslash or unbalanced quote", expr)
		return w
	}
	w.parts = append(w.parts, expr)
	return w
}

// Err is the first error met while building.
func (w *WhereBuilder) Err() error { return w.err }

// Build returns the expression or the first error.
func (w *WhereBuilder) Build() (string, error) {
	if w.err != nil {
		return "", w.err
	}
	return strings.Join(w.parts, " AND "), nil
}

// String returns the expression; on error it returns a marked, unparsable
// expression that Client refuses to send.
func (w *WhereBuilder) String() string {
	s, err := w.Build()
	if err != nil {
		return invalidWherePrefix + err.Error()
	}
	return s
}

// Literal renders a Go value as a where literal: strings and UUIDs quoted,
// integers and booleans bare.
func Literal(v any) (string, error) {
	switch x := v.(type) {
	case string:
		if strings.ContainsAny(x, `'\`) {
			return "", fmt.Errorf("literal %q contains ' or \\, which ConfigHub cannot escape", x)
		}
		return "'" + x + "'", nil
	case uuid.UUID:
		return "'" + x.String() + "'", nil
	case fmt.Stringer:
		return Literal(x.String())
	case bool:
		return strconv.FormatBool(x), nil
	case int:
		return strconv.Itoa(x), nil
	case int32:
		return strconv.FormatInt(int64(x), 10), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint:
		return strconv.FormatUint(uint64(x), 10), nil
	}
	return "", fmt.Errorf("unsupported literal type %T", v)
}

func checkAttr(attr string) error {
	if attr == "" {
		return errors.New("where: empty attribute")
	}
	for _, r := range attr {
		if !(r == '.' || r == '_' || r == '-' || r == '/' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return fmt.Errorf("where: bad attribute name %q", attr)
		}
	}
	return nil
}

func validateWhere(where string) error {
	if strings.HasPrefix(where, invalidWherePrefix) {
		return errors.New(strings.TrimPrefix(where, invalidWherePrefix))
	}
	if strings.ContainsRune(where, '\\') {
		return fmt.Errorf("where %q contains a backslash, which ConfigHub rejects", where)
	}
	if strings.Count(where, "'")%2 != 0 {
		return fmt.Errorf("where %q has unbalanced quotes", where)
	}
	return nil
}
