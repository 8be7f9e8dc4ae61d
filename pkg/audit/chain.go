package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/finos/traderx-plugins/pkg/hint"
)

// The hash chain. Every line a Log writes to its file is a JSON object that
// ends in chain fields:
//
//	{…the record…,"seq":N,"prev":"<hash of record N-1>","hash":"<sha256 of everything before ,"hash">"}
//
// N counts the lines of all run files of one log directory together, from 1,
// in the order they were written: a writer takes an exclusive lock on
// LockFile, reads the last seq and hash from HeadFile, appends its line to its
// own run file and writes the new head, then unlocks. So concurrent runs
// writing into one directory interleave on one chain, and the chain's order
// is seq order, not file order. Record 1's prev is Genesis.
//
// An altered line no longer matches its hash; a removed line leaves a gap in
// seq (or, the last lines, a head ahead of the last record); a line moved
// within its file breaks the rising seq of that file. The chain makes a
// change evident, it does not prevent one: whoever can rewrite every line
// after the change and the head can forge a consistent chain. Keep a copy of
// the head (or the whole directory) where that person cannot write.
const (
	LockFile = ".audit.lock"
	HeadFile = "audit.head"
	Genesis  = "0000000000000000000000000000000000000000000000000000000000000000"
)

const hashField = `,"hash":"`

// chainWriter appends each Write (one JSON line from slog) to the run file
// as the next record of the directory's chain.
type chainWriter struct {
	dir  string
	file *os.File
	lock *os.File
}

func newChainWriter(dir string, file *os.File) (*chainWriter, error) {
	lock, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the log directory's lock file: %w (use --log-dir)", err)
	}
	return &chainWriter{dir: dir, file: file, lock: lock}, nil
}

// Write implements io.Writer for slog's JSON handler, which writes each
// record in one call, ending in "}\n".
func (c *chainWriter) Write(p []byte) (int, error) {
	body := bytes.TrimRight(p, "\n")
	if !bytes.HasSuffix(body, []byte("}")) {
		return 0, fmt.Errorf("audit: not a JSON object line: %q", p)
	}
	if err := lockFile(c.lock); err != nil {
		return 0, fmt.Errorf("lock %s: %w", c.lock.Name(), err)
	}
	defer func() { _ = unlockFile(c.lock) }()
	seq, prev, err := readHead(c.dir)
	if err != nil {
		return 0, err
	}
	seq++
	b := make([]byte, 0, len(body)+160)
	b = append(b, body[:len(body)-1]...)
	b = fmt.Appendf(b, `,"seq":%d,"prev":%q`, seq, prev)
	h := hashOf(b)
	b = append(b, hashField...)
	b = append(b, h...)
	b = append(b, "\"}\n"...)
	if _, err := c.file.Write(b); err != nil {
		return 0, err
	}
	if err := writeHead(c.dir, seq, h); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *chainWriter) Close() error { return c.lock.Close() }

func hashOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// readHead returns the last seq and hash of the directory's chain (0 and
// Genesis before the first record).
func readHead(dir string) (int64, string, error) {
	b, err := os.ReadFile(filepath.Join(dir, HeadFile))
	if errors.Is(err, os.ErrNotExist) {
		return 0, Genesis, nil
	}
	if err != nil {
		return 0, "", fmt.Errorf("read the audit chain head: %w", err)
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, "", fmt.Errorf("%s is not \"<seq> <hash>\": %q (restore it from a copy, or run `%s`)", filepath.Join(dir, HeadFile), b, hint.AuditVerify())
	}
	seq, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return 0, "", fmt.Errorf("%s: bad seq %q", filepath.Join(dir, HeadFile), f[0])
	}
	return seq, f[1], nil
}

// writeHead replaces the head through a rename, so a crash leaves the old
// head or the new one, never half of one.
func writeHead(dir string, seq int64, hash string) error {
	tmp, err := os.CreateTemp(dir, ".audit.head-*")
	if err != nil {
		return fmt.Errorf("write the audit chain head: %w", err)
	}
	_, werr := fmt.Fprintf(tmp, "%d %s\n", seq, hash)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("write the audit chain head: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, HeadFile)); err != nil {
		return fmt.Errorf("write the audit chain head: %w", err)
	}
	return nil
}
