package confighubtest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// This file implements the `where` subset of shared/confighub-api.md §5:
// relations joined by AND; = != <> < > <= >=, IN / NOT IN, LIKE / ILIKE /
// NOT LIKE / ~~ / !~~, regex ~ ~* !~ !~*, ? (map key or array element),
// LEN(X) op n, IS [NOT] NULL, attribute-vs-attribute comparisons, map keys
// with a dot (Labels.k) and, for units, the documented cross-entity prefixes
// Unit., Space. and UpstreamUnit. Keywords are upper case only. Literals
// cannot contain a backslash (as on the real server).
//
// The attributes each entity accepts are the spec's "Supported attributes
// for filtering on <Entity>" lists (shared/confighub-openapi-facts.md §5),
// not the fields of our Go structs: an attribute the stand-in has no value
// for is accepted and is null.

// schema lists an entity kind's filterable attributes.
type schema struct {
	name   string
	attrs  []string // in the order the spec lists them, for error messages
	fields map[string]bool
	maps   map[string]bool
	rel    map[string]*schema
}

// newSchema builds a schema from the spec's comma-separated attribute list;
// maps names the map-valued attributes (filtered as Attr.key).
func newSchema(name, attrs, maps string) *schema {
	s := &schema{name: name, fields: map[string]bool{}, maps: map[string]bool{}, rel: map[string]*schema{}}
	for _, a := range strings.Split(attrs, ",") {
		a = strings.TrimSpace(a)
		s.attrs = append(s.attrs, a)
		s.fields[a] = true
	}
	for _, m := range strings.Split(maps, ",") {
		if m = strings.TrimSpace(m); m != "" {
			if !s.fields[m] {
				panic("confighubtest: map attribute " + m + " is not an attribute of " + name)
			}
			s.maps[m] = true
		}
	}
	return s
}

var (
	spaceSchema = newSchema("Space", "Annotations, AttributeFilterID, AttributeHash, AttributeIDs, CreatedAt, "+
		"DeleteGates, DisplayName, Labels, OrganizationID, Permissions, Slug, SpaceID, TriggerFilterID, TriggerHash, "+
		"TriggerIDs, UpdatedAt", "Annotations, DeleteGates, Labels, Permissions")
	unitSchema = newSchema("Unit", "Annotations, ApplyGates, ApplyWarnings, ApprovedBy, BridgeWorkerID, ChangeSetID, "+
		"CreatedAt, DataHash, DeleteGates, DestroyGates, DisplayName, DriftReconciliationMode, FromLinkID, "+
		"HeadRevisionNum, HeadUnitActionNum, HeadUnitEventNum, Labels, LastActionAt, LastAppliedRevisionNum, "+
		"LastChangeDescription, LiveRevisionNum, OrganizationID, PreviousLiveRevisionNum, ProviderType, Slug, SpaceID, "+
		"TargetID, TargetOptions, ToolchainType, UnitID, UpdatedAt, UpstreamOrganizationID, UpstreamRevisionNum, "+
		"UpstreamSpaceID, UpstreamUnitID, Values",
		"Annotations, ApplyGates, ApplyWarnings, DeleteGates, DestroyGates, Labels, TargetOptions, Values")
	revisionSchema = newSchema("Revision", "ApplyGates, ApplyWarnings, ApprovedBy, ChangeSetID, CreatedAt, DataHash, "+
		"Description, LiveAt, OrganizationID, RevisionID, RevisionNum, Source, SpaceID, Tags, UnitID, UpdatedAt, "+
		"UserAgent, UserID", "ApplyGates, ApplyWarnings, Tags")
	eventSchema = newSchema("UnitEvent", "Action, BridgeWorkerID, CreatedAt, OrganizationID, QueuedOperationID, "+
		"Result, RevisionNum, SpaceID, StartedAt, Status, TerminatedAt, UnitEventID, UnitEventNum, UnitID, UpdatedAt", "")
	targetSchema = newSchema("Target", "Annotations, BridgeHandle, BridgeWorkerID, CreatedAt, DeleteGates, "+
		"DisplayName, Facts, Labels, LiveStateType, Options, OrganizationID, Permissions, ProviderType, Slug, SpaceID, "+
		"TargetID, ToolchainType, TriggerFilterID, TriggerHash, TriggerIDs, UpdatedAt",
		"Annotations, DeleteGates, Facts, Labels, Options, Permissions")
	tagSchema = newSchema("Tag", "Annotations, ChangeSetID, CreatedAt, DeleteGates, DisplayName, Labels, "+
		"OrganizationID, Slug, SpaceID, TagID, UpdatedAt", "Annotations, DeleteGates, Labels")
	linkSchema = newSchema("Link", "Annotations, AutoUpdate, CreatedAt, DeleteGates, DisplayName, "+
		"DownstreamLastMergedRevisionNum, FromUnitID, Hash, Labels, LinkID, MergeDisableSubtraction, OrganizationID, "+
		"Slug, SpaceID, ToSpaceID, ToUnitID, TransformInvocationID, UpdateType, UpdatedAt, "+
		"UpstreamLastMergedRevisionNum, UpstreamLinkID, UpstreamOrganizationID, UpstreamSpaceID, UseLiveState",
		"Annotations, DeleteGates, Labels")
	mutationSchema = newSchema("Mutation", "CreatedAt, FunctionName, InvocationID, LinkID, MergeBaseRevisionNum, "+
		"MergeEndRevisionNum, MergeSourceID, MutationID, MutationNum, OrganizationID, RestoredRevisionNum, RevisionID, "+
		"RevisionNum, SpaceID, Subgroup, TriggerID, UnitID, UpdatedAt, UpgradedFromUpstreamRevisionNum", "")
)

func init() {
	unitSchema.rel["Unit"] = unitSchema
	unitSchema.rel["Space"] = spaceSchema
	unitSchema.rel["UpstreamUnit"] = unitSchema
}

// check validates an attribute path against the schema.
func (s *schema) check(attr string) error {
	cur := s
	rest := attr
	for {
		head, tail, more := strings.Cut(rest, ".")
		switch {
		case cur.rel[head] != nil && more:
			cur, rest = cur.rel[head], tail
			continue
		case cur.maps[head]:
			if more && tail == "" {
				return fmt.Errorf("attribute %q: empty map key", attr)
			}
			return nil
		case cur.fields[head] && !more:
			return nil
		}
		return fmt.Errorf("unsupported attribute %q for filtering on %s; supported attributes: %s",
			attr, s.name, strings.Join(s.attrs, ", "))
	}
}

// view is an entity as the evaluator sees it: its JSON form plus related entities.
type view struct {
	m   map[string]any
	rel map[string]func() *view
}

func toMap(v any) map[string]any {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

func (v *view) get(attr string) any {
	if v == nil {
		return nil
	}
	head, tail, more := strings.Cut(attr, ".")
	if more {
		if r, ok := v.rel[head]; ok {
			return r().get(tail)
		}
		if mm, ok := v.m[head].(map[string]any); ok {
			return mm[tail]
		}
		return nil
	}
	return v.m[attr]
}

// ---- parsing ----

type tokKind int

const (
	tIdent tokKind = iota
	tString
	tNumber
	tOp
	tLParen
	tRParen
	tComma
	tEOF
)

type token struct {
	kind tokKind
	text string
}

var keywords = map[string]bool{"AND": true, "IN": true, "NOT": true, "LIKE": true, "ILIKE": true,
	"IS": true, "NULL": true, "TRUE": true, "FALSE": true, "LEN": true}

func tokenize(s string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated string literal at offset %d", i)
			}
			lit := s[i+1 : i+1+j]
			if strings.ContainsRune(lit, '\\') {
				return nil, fmt.Errorf("string literal %q contains a backslash", lit)
			}
			toks = append(toks, token{tString, lit})
			i += j + 2
		case c == '(':
			toks = append(toks, token{tLParen, "("})
			i++
		case c == ')':
			toks = append(toks, token{tRParen, ")"})
			i++
		case c == ',':
			toks = append(toks, token{tComma, ","})
			i++
		case c >= '0' && c <= '9' || (c == '-' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9'):
			j := i + 1
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.') {
				j++
			}
			toks = append(toks, token{tNumber, s[i:j]})
			i = j
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i + 1
			for j < len(s) && (s[j] == '_' || s[j] == '.' || s[j] == '-' || s[j] == '/' ||
				s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			toks = append(toks, token{tIdent, s[i:j]})
			i = j
		default:
			ops := []string{"!~~", "!~*", "<=", ">=", "!=", "<>", "~~", "~*", "!~", "=", "<", ">", "~", "?"}
			found := false
			for _, op := range ops {
				if strings.HasPrefix(s[i:], op) {
					toks = append(toks, token{tOp, op})
					i += len(op)
					found = true
					break
				}
			}
			if !found {
				return nil, fmt.Errorf("unexpected character %q at offset %d", c, i)
			}
		}
	}
	return append(toks, token{tEOF, ""}), nil
}

type operand struct {
	attr  string // attribute path, when not a literal
	lit   any    // string, float64, bool or nil
	isLit bool
}

type relation struct {
	lhs    string
	len    bool // LEN(lhs)
	op     string
	rhs    operand
	list   []any // IN
	negate bool  // NOT IN / NOT LIKE / IS NOT NULL
}

type filter []relation

type parser struct {
	toks []token
	pos  int
	s    *schema
}

func (p *parser) peek() token { return p.toks[p.pos] }
func (p *parser) next() token { t := p.toks[p.pos]; p.pos++; return t }

func (p *parser) kw(word string) bool {
	if t := p.peek(); t.kind == tIdent && t.text == word {
		p.pos++
		return true
	}
	return false
}

func (p *parser) attr() (string, error) {
	t := p.next()
	if t.kind != tIdent || keywords[t.text] {
		return "", fmt.Errorf("expected an attribute, got %q", t.text)
	}
	if err := p.s.check(t.text); err != nil {
		return "", err
	}
	return t.text, nil
}

func (p *parser) literal() (any, error) {
	t := p.next()
	switch {
	case t.kind == tString:
		return t.text, nil
	case t.kind == tNumber:
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, fmt.Errorf("bad number %q", t.text)
		}
		return f, nil
	case t.kind == tIdent && t.text == "TRUE":
		return true, nil
	case t.kind == tIdent && t.text == "FALSE":
		return false, nil
	}
	return nil, fmt.Errorf("expected a literal, got %q", t.text)
}

// parseWhere parses a where expression for an entity kind; "" matches all.
func parseWhere(expr string, s *schema) (filter, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, nil
	}
	toks, err := tokenize(expr)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, s: s}
	var f filter
	for {
		r, err := p.relation()
		if err != nil {
			return nil, err
		}
		f = append(f, r)
		if p.peek().kind == tEOF {
			return f, nil
		}
		if !p.kw("AND") {
			return nil, fmt.Errorf("expected AND, got %q", p.peek().text)
		}
	}
}

func (p *parser) relation() (relation, error) {
	var r relation
	if p.kw("LEN") {
		if p.next().kind != tLParen {
			return r, fmt.Errorf("expected ( after LEN")
		}
		a, err := p.attr()
		if err != nil {
			return r, err
		}
		if p.next().kind != tRParen {
			return r, fmt.Errorf("expected ) after LEN(%s", a)
		}
		r.lhs, r.len = a, true
		t := p.next()
		if t.kind != tOp || strings.ContainsAny(t.text, "~?") {
			return r, fmt.Errorf("expected a comparison after LEN(%s)", a)
		}
		r.op = t.text
		lit, err := p.literal()
		if err != nil {
			return r, err
		}
		if _, ok := lit.(float64); !ok {
			return r, fmt.Errorf("LEN(%s) compares with a number", a)
		}
		r.rhs = operand{lit: lit, isLit: true}
		return r, nil
	}
	a, err := p.attr()
	if err != nil {
		return r, err
	}
	r.lhs = a
	switch {
	case p.kw("IS"):
		r.negate = p.kw("NOT")
		if !p.kw("NULL") {
			return r, fmt.Errorf("expected NULL after IS")
		}
		r.op = "IS NULL"
		return r, nil
	case p.kw("NOT"):
		r.negate = true
		switch {
		case p.kw("IN"):
			return p.inList(r)
		case p.kw("LIKE"):
			r.op = "LIKE"
		default:
			return r, fmt.Errorf("expected IN or LIKE after NOT")
		}
	case p.kw("IN"):
		return p.inList(r)
	case p.kw("LIKE"):
		r.op = "LIKE"
	case p.kw("ILIKE"):
		r.op = "ILIKE"
	default:
		t := p.next()
		if t.kind != tOp {
			return r, fmt.Errorf("expected an operator after %s, got %q", a, t.text)
		}
		r.op = t.text
	}
	// right-hand side: literal or attribute
	if t := p.peek(); t.kind == tIdent && !keywords[t.text] {
		b, err := p.attr()
		if err != nil {
			return r, err
		}
		r.rhs = operand{attr: b}
		return r, nil
	}
	lit, err := p.literal()
	if err != nil {
		return r, err
	}
	r.rhs = operand{lit: lit, isLit: true}
	switch r.op {
	case "LIKE", "ILIKE", "~~", "!~~", "?", "~", "~*", "!~", "!~*":
		ls, ok := lit.(string)
		if !ok {
			return r, fmt.Errorf("operator %s takes a string literal", r.op)
		}
		if r.op == "~" || r.op == "~*" || r.op == "!~" || r.op == "!~*" {
			if _, err := regexp.Compile(ls); err != nil {
				return r, fmt.Errorf("bad regular expression %q", ls)
			}
		}
	}
	return r, nil
}

func (p *parser) inList(r relation) (relation, error) {
	r.op = "IN"
	if p.next().kind != tLParen {
		return r, fmt.Errorf("expected ( after IN")
	}
	for {
		lit, err := p.literal()
		if err != nil {
			return r, err
		}
		r.list = append(r.list, lit)
		t := p.next()
		if t.kind == tRParen {
			return r, nil
		}
		if t.kind != tComma {
			return r, fmt.Errorf("expected , or ) in IN list")
		}
	}
}

// ---- evaluation ----

func (f filter) match(v *view) bool {
	for _, r := range f {
		if !r.match(v) {
			return false
		}
	}
	return true
}

func isNull(x any) bool {
	switch y := x.(type) {
	case nil:
		return true
	case string:
		return y == uuid.Nil.String()
	}
	return false
}

func (r relation) match(v *view) bool {
	lhs := v.get(r.lhs)
	if r.op == "IS NULL" {
		return isNull(lhs) != r.negate
	}
	if r.len {
		n := 0
		switch x := lhs.(type) {
		case map[string]any:
			n = len(x)
		case []any:
			n = len(x)
		case string:
			n = len(x)
		}
		return compare(float64(n), r.rhs.lit, r.op)
	}
	if r.op == "IN" {
		if lhs == nil {
			return false
		}
		for _, l := range r.list {
			if compare(lhs, l, "=") {
				return !r.negate
			}
		}
		return r.negate
	}
	var rhs any
	if r.rhs.isLit {
		rhs = r.rhs.lit
	} else {
		rhs = v.get(r.rhs.attr)
	}
	if r.op == "?" {
		key, _ := rhs.(string)
		switch x := lhs.(type) {
		case map[string]any:
			_, ok := x[key]
			return ok
		case []any:
			for _, e := range x {
				if compare(e, key, "=") {
					return true
				}
			}
		}
		return false
	}
	if lhs == nil || rhs == nil {
		return false
	}
	switch r.op {
	case "LIKE", "~~", "ILIKE", "!~~":
		ls, ok1 := lhs.(string)
		ps, ok2 := rhs.(string)
		if !ok1 || !ok2 {
			return false
		}
		re := likeRegexp(ps, r.op == "ILIKE")
		m := re.MatchString(ls)
		if r.op == "!~~" {
			return !m
		}
		return m != r.negate
	case "~", "~*", "!~", "!~*":
		ls, ok1 := lhs.(string)
		ps, ok2 := rhs.(string)
		if !ok1 || !ok2 {
			return false
		}
		if strings.HasSuffix(r.op, "*") {
			ps = "(?i)" + ps
		}
		re, err := regexp.Compile(ps)
		if err != nil {
			return false
		}
		return re.MatchString(ls) != strings.HasPrefix(r.op, "!")
	}
	return compare(lhs, rhs, r.op)
}

func likeRegexp(p string, fold bool) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	if fold {
		b.WriteString("(?i)")
	}
	for _, c := range p {
		switch c {
		case '%':
			b.WriteString(".*")
		case '_':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile("(?s)" + b.String())
}

// compare applies op to two JSON-ish values: numbers numerically, UUIDs as
// UUIDs, everything else as strings.
func compare(a, b any, op string) bool {
	var c int
	af, aNum := a.(float64)
	bf, bNum := b.(float64)
	if !aNum {
		if s, ok := a.(string); ok && bNum {
			if f, err := strconv.ParseFloat(s, 64); err == nil {
				af, aNum = f, true
			}
		}
	}
	if !bNum {
		if s, ok := b.(string); ok && aNum {
			if f, err := strconv.ParseFloat(s, 64); err == nil {
				bf, bNum = f, true
			}
		}
	}
	switch {
	case aNum && bNum:
		switch {
		case af < bf:
			c = -1
		case af > bf:
			c = 1
		}
	default:
		as, bs := fmt.Sprint(a), fmt.Sprint(b)
		if ua, err := uuid.Parse(as); err == nil {
			if ub, err := uuid.Parse(bs); err == nil {
				as, bs = ua.String(), ub.String()
			}
		}
		c = strings.Compare(as, bs)
	}
	switch op {
	case "=":
		return c == 0
	case "!=", "<>":
		return c != 0
	case "<":
		return c < 0
	case ">":
		return c > 0
	case "<=":
		return c <= 0
	case ">=":
		return c >= 0
	}
	return false
}
