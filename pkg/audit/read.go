package audit

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// Stored is an audit record as read back from a run file.
type Stored struct {
	Record
	RunID string
	File  string // base name of the run file
}

// ReadRecords returns the audit records of every run file in dir, by run ID,
// each run's records in the order written. Lines that are not audit records
// (progress, HTTP detail) are skipped; a missing dir is no records.
func ReadRecords(dir string) (map[string][]Stored, error) {
	files, err := filepath.Glob(filepath.Join(dir, RunFilePattern))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	out := map[string][]Stored{}
	for _, path := range files {
		if err := readRecordsOf(path, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func readRecordsOf(path string, out map[string][]Stored) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for sc.Scan() {
		var l struct {
			Audit       bool             `json:"audit"`
			Run         string           `json:"run"`
			At          time.Time        `json:"at"`
			User        string           `json:"user"`
			Action      string           `json:"action"`
			Environment string           `json:"environment"`
			Units       []string         `json:"units"`
			Revisions   map[string]int64 `json:"revisions"`
			Result      string           `json:"result"`
			DurationS   float64          `json:"duration_s"`
			Error       string           `json:"error"`
			Detail      string           `json:"detail"`
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil || !l.Audit {
			continue
		}
		out[l.Run] = append(out[l.Run], Stored{RunID: l.Run, File: filepath.Base(path), Record: Record{
			Time: l.At, User: l.User, Action: l.Action, Environment: l.Environment, Units: l.Units, Revisions: l.Revisions,
			Result: l.Result, Duration: time.Duration(l.DurationS * float64(time.Second)), Error: l.Error, Detail: l.Detail}})
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}
