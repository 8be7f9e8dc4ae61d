// Command rusage runs a command and writes its wall time and peak resident
// set size to a file, for the benchmarks:
//
//	rusage OUT CMD [ARGS...]
//
// OUT gets "<wall nanoseconds> <peak RSS KiB>"; the command's exit code is
// rusage's. The benchmark starts the binaries through this small process
// because a child's ru_maxrss starts at the peak resident set of the address
// space it replaced at exec, and Go starts children sharing its own memory
// until exec: a binary started straight from the benchmark would report the
// benchmark's peak (tens of MB) instead of its own.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: rusage OUT CMD [ARGS...]")
		os.Exit(2)
	}
	cmd := exec.Command(os.Args[2], os.Args[3:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		fmt.Fprintln(os.Stderr, "rusage:", err)
		os.Exit(127)
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if ru == nil {
		fmt.Fprintln(os.Stderr, "rusage: no resource usage on this platform")
		os.Exit(127)
	}
	if err := os.WriteFile(os.Args[1], fmt.Appendf(nil, "%d %d\n", wall.Nanoseconds(), ru.Maxrss), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "rusage:", err)
		os.Exit(127)
	}
	os.Exit(cmd.ProcessState.ExitCode())
}
