// Command traderx-sandbox runs the local test ground in the foreground: the
// real control plane (and, once wired, the ConfigHub stand-in). It writes an
// env file pointing KUBECONFIG and PATH at it and stops every component by PID
// on SIGTERM or SIGINT. `make sandbox` runs it in the background.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/finos/traderx-plugins/test/cluster"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "traderx-sandbox: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	dir := flag.String("dir", ".sandbox", "state directory (cluster files, env file, pid file)")
	binDir := flag.String("bin", "bin", "directory with the plugin binaries, prepended to PATH in the env file")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	absBin, err := filepath.Abs(*binDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return err
	}
	envFile := filepath.Join(abs, "env")
	// A stale env file would make `make sandbox` think we are ready.
	_ = os.Remove(envFile)
	clusterDir := filepath.Join(abs, "cluster")
	if err := os.RemoveAll(clusterDir); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	c, err := cluster.Start(ctx, cluster.Options{Dir: clusterDir, Logf: func(f string, a ...any) { log.Info(fmt.Sprintf(f, a...)) }})
	if err != nil {
		return err
	}
	defer c.Stop()

	pids := []string{strconv.Itoa(os.Getpid())}
	for _, p := range c.PIDs() {
		pids = append(pids, strconv.Itoa(p))
	}
	if err := os.WriteFile(filepath.Join(abs, "pids"), []byte(strings.Join(pids, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	env := fmt.Sprintf("# Written by traderx-sandbox; source it: . %s\nexport KUBECONFIG=%q\nexport PATH=%q:\"$PATH\"\n",
		envFile, c.Kubeconfig, absBin)
	tmp := envFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(env), 0o644); err != nil {
		return err
	}
	// Renamed last: its existence is the readiness signal.
	if err := os.Rename(tmp, envFile); err != nil {
		return err
	}
	log.Info("sandbox ready", "env", envFile, "kubeconfig", c.Kubeconfig)
	<-ctx.Done()
	log.Info("stopping sandbox")
	_ = os.Remove(envFile)
	if !errors.Is(ctx.Err(), context.Canceled) {
		return ctx.Err()
	}
	return nil
}
