// Command traderx-sandbox runs the local test ground in the foreground: two
// real control planes, one for dev and staging and one for prod, started in
// parallel from the same built binaries, and, in-process, the ConfigHub API
// stand-in on 127.0.0.1 whose workers server-side-apply units to them (each
// environment's worker to its own cluster). It writes one kubeconfig with a
// context per cluster, the environment → context mapping
// (<dir>/config/traderx/clusters.yaml), and an env file pointing KUBECONFIG,
// XDG_CONFIG_HOME, CUB_SERVER, CUB_TOKEN and PATH at them; it stops every
// component by PID on SIGTERM or SIGINT. `make sandbox` runs it in the
// background.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/finos/traderx-plugins/pkg/confighub/confighubtest"
	"github.com/finos/traderx-plugins/pkg/traderx"
	"github.com/finos/traderx-plugins/test/cluster"
	"github.com/finos/traderx-plugins/test/multicluster"
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
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	ground, err := multicluster.Start(ctx, abs, cluster.Options{Logf: func(f string, a ...any) { log.Info(fmt.Sprintf(f, a...)) }})
	defer ground.Stop()
	if err != nil {
		return err
	}

	// The ConfigHub stand-in, in this process, with one bridge worker per
	// environment space (as an operator runs `cub worker run`), each
	// advertising its own cluster's context as its target.
	tok := make([]byte, 24)
	if _, err := rand.Read(tok); err != nil {
		return err
	}
	hub := confighubtest.New(confighubtest.WithToken("sandbox-"+hex.EncodeToString(tok)), confighubtest.WithLogger(log))
	defer hub.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hub.URL = "http://" + ln.Addr().String()
	hs := &http.Server{Handler: hub, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("ConfigHub stand-in stopped", "error", err)
		}
	}()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	log.Info("ConfigHub stand-in listening", "url", hub.URL)
	workers, err := ground.StartWorkers(ctx, hub, traderx.DefaultProject, log)
	if err != nil {
		return err
	}
	for _, w := range workers {
		defer w.Stop()
	}

	pids := []string{strconv.Itoa(os.Getpid())}
	for _, p := range ground.PIDs() {
		pids = append(pids, strconv.Itoa(p))
	}
	if err := os.WriteFile(filepath.Join(abs, "pids"), []byte(strings.Join(pids, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	// The env file holds the stand-in's token: readable by the owner only.
	env := fmt.Sprintf("# Written by traderx-sandbox; source it: . %s\n"+
		"# Two clusters: context %s (dev, staging) and %s (prod)\nexport KUBECONFIG=%q\nexport PATH=%q:\"$PATH\"\n"+
		"# The environment -> kube context mapping (kubectl traderx config view)\nexport XDG_CONFIG_HOME=%q\n"+
		"# The ConfigHub stand-in (cub-traderx reads these as cub would pass them)\nexport CUB_SERVER=%q\nexport CUB_TOKEN=%q\n",
		envFile, multicluster.NonProdContext, multicluster.ProdContext, ground.Kubeconfig, absBin, ground.ConfigHome, hub.URL, hub.Token)
	tmp := envFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(env), 0o600); err != nil {
		return err
	}
	// Renamed last: its existence is the readiness signal.
	if err := os.Rename(tmp, envFile); err != nil {
		return err
	}
	log.Info("sandbox ready", "env", envFile, "kubeconfig", ground.Kubeconfig, "confighub", hub.URL)
	<-ctx.Done()
	log.Info("stopping sandbox")
	_ = os.Remove(envFile)
	if !errors.Is(ctx.Err(), context.Canceled) {
		return ctx.Err()
	}
	return nil
}
