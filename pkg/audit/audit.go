// Package audit writes what a cub-traderx run did: console lines on stderr
// ("[2006-01-02 15:04:05] INFO: message"), a timestamped log file per run with
// every line at debug detail, and one audit record per mutation (time, user,
// action, environment, units, revisions, result, duration). Secrets handed to
// Open are redacted from everything written. Every line of a log directory's
// run files is one link of a hash chain (chain.go) that Verify checks; every
// line carries the run's ID, which the run also writes into the change
// descriptions it leaves in ConfigHub, so the two can be joined.
package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Record is one mutation: a space, unit, target or tag created or changed, a
// unit applied, a release recorded.
type Record struct {
	Time        time.Time
	User        string
	Action      string // e.g. "create-unit", "apply", "record-release"
	Environment string // "" for project-wide changes (the base space)
	Units       []string
	// Revisions maps a unit to the revision the mutation produced or applied.
	Revisions map[string]int64
	Result    string // "ok" or "failed"
	Duration  time.Duration
	Error     string
	// Detail is what else only the client saw: how a protected change was
	// confirmed, a health gate's verdict.
	Detail string
}

// Results of a record.
const (
	ResultOK     = "ok"
	ResultFailed = "failed"
)

// Recorder receives audit records; *Log implements it, Discard drops them.
type Recorder interface {
	Record(Record)
}

// Discard is a Recorder that drops every record.
var Discard Recorder = discard{}

type discard struct{}

func (discard) Record(Record) {}

// Options configure a run's log.
type Options struct {
	// Dir holds the log files; DefaultDir when empty.
	Dir string
	// Command names the run in the file name, e.g. "apply".
	Command string
	// Console receives INFO and above as "[time] LEVEL: message" (nil: none).
	Console io.Writer
	// Verbose shows DEBUG on the console too.
	Verbose bool
	// Secrets are replaced by REDACTED everywhere (the ConfigHub token).
	Secrets []string
	// Now is the clock (default time.Now).
	Now func() time.Time
	// RunID names the run on every line (default: NewRunID).
	RunID string
}

// NewRunID returns a run ID: the UTC start time and 6 random hex digits,
// e.g. 20261202T130455Z-3fa9c1. It is short enough for a change
// description and unique enough across the runs of one organisation.
func NewRunID(now time.Time) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b)
}

// Log is one run's log: a logger for progress lines and a Recorder.
type Log struct {
	logger *slog.Logger
	file   *os.File
	chain  *chainWriter
	path   string
	now    func() time.Time
	runID  string

	mu   sync.Mutex
	user string
}

// DefaultDir is $XDG_STATE_HOME/traderx/logs, else ~/.local/state/traderx/logs.
func DefaultDir(getenv func(string) string, home string) string {
	if d := getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "traderx", "logs")
	}
	return filepath.Join(home, ".local", "state", "traderx", "logs")
}

// Open creates the run's log file (mode 0600, directory 0700) and returns the
// Log. The file name is cub-traderx-<UTC time>-<command>-<pid>.log. The file
// is opened append-only and made read-only (0400) by Close: a finished run's
// file is never written again.
func Open(o Options) (*Log, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Dir == "" {
		return nil, errors.New("audit: no log directory")
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create log directory %s: %w (use --log-dir)", o.Dir, err)
	}
	cmd := o.Command
	if cmd == "" {
		cmd = "run"
	}
	stem := fmt.Sprintf("cub-traderx-%s-%s-%d", o.Now().UTC().Format("20060102T150405.000Z"), cmd, os.Getpid())
	var f *os.File
	var path string
	for i := 1; ; i++ {
		path = filepath.Join(o.Dir, stem+".log")
		if i > 1 {
			path = filepath.Join(o.Dir, fmt.Sprintf("%s.%d.log", stem, i))
		}
		var err error
		f, err = os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_EXCL, 0o600)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrExist) || i >= 100 {
			return nil, fmt.Errorf("create log file: %w (use --log-dir)", err)
		}
	}
	chain, err := newChainWriter(o.Dir, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	if o.RunID == "" {
		o.RunID = NewRunID(o.Now())
	}
	l := &Log{file: f, chain: chain, path: path, now: o.Now, runID: o.RunID}
	secrets := slices.DeleteFunc(slices.Clone(o.Secrets), func(s string) bool { return len(s) < 4 })
	red := func(_ []string, a slog.Attr) slog.Attr {
		if a.Value.Kind() == slog.KindString {
			a.Value = slog.StringValue(redact(a.Value.String(), secrets))
		} else if a.Value.Kind() == slog.KindAny {
			if err, ok := a.Value.Any().(error); ok {
				a.Value = slog.StringValue(redact(err.Error(), secrets))
			}
		}
		return a
	}
	handlers := []slog.Handler{slog.NewJSONHandler(chain, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: red}).
		WithAttrs([]slog.Attr{slog.String(runKey, o.RunID)})}
	if o.Console != nil {
		level := slog.LevelInfo
		if o.Verbose {
			level = slog.LevelDebug
		}
		handlers = append(handlers, &consoleHandler{w: o.Console, level: level, now: o.Now, secrets: secrets, mu: &sync.Mutex{}})
	}
	l.logger = slog.New(fanout(handlers))
	return l, nil
}

// NewConsole is a Log without a file, for commands that change nothing and tests.
func NewConsole(w io.Writer, verbose bool, now func() time.Time) *Log {
	if now == nil {
		now = time.Now
	}
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	return &Log{now: now, logger: slog.New(&consoleHandler{w: w, level: level, now: now, mu: &sync.Mutex{}})}
}

// Logger is the run's logger: INFO/WARN/ERROR reach the console, everything the file.
func (l *Log) Logger() *slog.Logger { return l.logger }

// Path is the log file (empty for a console-only log).
func (l *Log) Path() string { return l.path }

// RunID is the ID every line of the run carries (empty for a console-only log).
func (l *Log) RunID() string { return l.runID }

// SetUser sets the user recorded on every later audit record (from GET /me).
func (l *Log) SetUser(user string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.user = user
}

// User returns the user set with SetUser.
func (l *Log) User() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.user
}

// Record writes one audit record to the log file (not the console).
func (l *Log) Record(r Record) {
	if r.Time.IsZero() {
		r.Time = l.now()
	}
	if r.User == "" {
		r.User = l.User()
	}
	if r.Result == "" {
		r.Result = ResultOK
	}
	units := slices.Clone(r.Units)
	slices.Sort(units)
	attrs := []slog.Attr{
		slog.Bool("audit", true),
		slog.Time("at", r.Time.UTC()),
		slog.String("user", r.User),
		slog.String("action", r.Action),
		slog.String("environment", r.Environment),
		slog.Any("units", units),
		slog.String("result", r.Result),
		slog.Float64("duration_s", r.Duration.Seconds()),
	}
	if len(r.Revisions) > 0 {
		revs := map[string]int64{}
		for k, v := range r.Revisions {
			revs[k] = v
		}
		attrs = append(attrs, slog.Any("revisions", revs))
	}
	if r.Error != "" {
		attrs = append(attrs, slog.String("error", r.Error))
	}
	if r.Detail != "" {
		attrs = append(attrs, slog.String("detail", r.Detail))
	}
	level := slog.LevelInfo
	if r.Result != ResultOK {
		level = slog.LevelError
	}
	// Audit records go to the file only: fileOnly marks them for the console handler.
	l.logger.LogAttrs(context.Background(), level, "audit: "+r.Action, append(attrs, slog.Bool(fileOnlyKey, true))...)
}

// Close closes the log file and makes it read-only.
func (l *Log) Close() error {
	if l.file == nil {
		return nil
	}
	err := errors.Join(l.file.Close(), l.chain.Close(), os.Chmod(l.path, 0o400))
	l.file = nil
	return err
}

const (
	fileOnlyKey = "file_only"
	runKey      = "run"
)

func redact(s string, secrets []string) string {
	for _, sec := range secrets {
		s = strings.ReplaceAll(s, sec, "REDACTED")
	}
	return s
}

// consoleHandler prints "[YYYY-MM-DD HH:MM:SS] LEVEL: message" lines.
type consoleHandler struct {
	w       io.Writer
	level   slog.Level
	now     func() time.Time
	secrets []string
	mu      *sync.Mutex
}

func (h *consoleHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *consoleHandler) Handle(_ context.Context, r slog.Record) error {
	fileOnly := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == fileOnlyKey {
			fileOnly = true
			return false
		}
		return true
	})
	if fileOnly {
		return nil
	}
	t := r.Time
	if t.IsZero() {
		t = h.now()
	}
	line := fmt.Sprintf("[%s] %s: %s\n", t.Local().Format("2006-01-02 15:04:05"), r.Level.String(), redact(r.Message, h.secrets))
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, line)
	return err
}

func (h *consoleHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *consoleHandler) WithGroup(string) slog.Handler      { return h }

// fanout sends each record to every handler that wants it.
type fanout []slog.Handler

func (f fanout) Enabled(ctx context.Context, l slog.Level) bool {
	for _, h := range f {
		if h.Enabled(ctx, l) {
			return true
		}
	}
	return false
}

func (f fanout) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	for _, h := range f {
		if h.Enabled(ctx, r.Level) {
			errs = append(errs, h.Handle(ctx, r.Clone()))
		}
	}
	return errors.Join(errs...)
}

func (f fanout) WithAttrs(a []slog.Attr) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithAttrs(a)
	}
	return out
}

func (f fanout) WithGroup(n string) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithGroup(n)
	}
	return out
}
