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
	"sync"
	"syscall"
	"time"

	"github.com/finos/traderx-plugins/pkg/confighub/confighubtest"
	"github.com/finos/traderx-plugins/pkg/envcluster"
	"github.com/finos/traderx-plugins/pkg/traderx"
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
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	clusters, err := startClusters(ctx, abs, func(f string, a ...any) { log.Info(fmt.Sprintf(f, a...)) })
	for _, c := range clusters {
		defer c.Stop()
	}
	if err != nil {
		return err
	}
	kubeconfig := filepath.Join(abs, "kubeconfig")
	if err := cluster.WriteKubeconfig(kubeconfig, nonProdContext, clusters); err != nil {
		return err
	}
	configHome := filepath.Join(abs, "config")
	mapping := &envcluster.File{Contexts: map[string]string{}}
	for _, e := range traderx.Environments() {
		mapping.Contexts[e.Name] = contextOf(e)
	}
	if err := mapping.Save(filepath.Join(configHome, "traderx", "clusters.yaml")); err != nil {
		return err
	}

	// The ConfigHub stand-in, in this process, with one bridge worker per
	// environment space (as an operator runs `cub worker run`), each
	// advertising the sandbox cluster's context as its target.
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
	backend := confighubtest.NewKubeBackend(confighubtest.KubeconfigContexts(kubeconfig))
	backend.Logger = log
	for _, e := range traderx.Environments() {
		// Each environment's worker runs beside its own cluster and
		// advertises only that cluster's context as its target.
		w, err := hub.StartWorker(ctx, e.Space(traderx.DefaultProject), "traderx-worker", []string{contextOf(e)}, backend,
			confighubtest.WithWorkerLogger(log))
		if err != nil {
			return fmt.Errorf("worker of %s: %w", e.Name, err)
		}
		defer w.Stop()
	}

	pids := []string{strconv.Itoa(os.Getpid())}
	for _, c := range clusters {
		for _, p := range c.PIDs() {
			pids = append(pids, strconv.Itoa(p))
		}
	}
	if err := os.WriteFile(filepath.Join(abs, "pids"), []byte(strings.Join(pids, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	// The env file holds the stand-in's token: readable by the owner only.
	env := fmt.Sprintf("# Written by traderx-sandbox; source it: . %s\n"+
		"# Two clusters: context %s (dev, staging) and %s (prod)\nexport KUBECONFIG=%q\nexport PATH=%q:\"$PATH\"\n"+
		"# The environment -> kube context mapping (kubectl traderx config view)\nexport XDG_CONFIG_HOME=%q\n"+
		"# The ConfigHub stand-in (cub-traderx reads these as cub would pass them)\nexport CUB_SERVER=%q\nexport CUB_TOKEN=%q\n",
		envFile, nonProdContext, prodContext, kubeconfig, absBin, configHome, hub.URL, hub.Token)
	tmp := envFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(env), 0o600); err != nil {
		return err
	}
	// Renamed last: its existence is the readiness signal.
	if err := os.Rename(tmp, envFile); err != nil {
		return err
	}
	log.Info("sandbox ready", "env", envFile, "kubeconfig", kubeconfig, "confighub", hub.URL)
	<-ctx.Done()
	log.Info("stopping sandbox")
	_ = os.Remove(envFile)
	if !errors.Is(ctx.Err(), context.Canceled) {
		return ctx.Err()
	}
	return nil
}

// The sandbox's two clusters, by kube context.
const (
	nonProdContext = "traderx-nonprod"
	prodContext    = "traderx-prod"
)

// contextOf is the cluster an environment lives on: prod on its own.
func contextOf(e traderx.Environment) string {
	if e.Name == "prod" {
		return prodContext
	}
	return nonProdContext
}

// startClusters starts both control planes at once (they share the built
// binaries; starting them one after the other would double the wait). Every
// cluster that started is returned, also on error, for the caller to stop.
func startClusters(ctx context.Context, dir string, logf func(string, ...any)) (map[string]*cluster.Cluster, error) {
	names := []string{nonProdContext, prodContext}
	started := make([]*cluster.Cluster, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		clusterDir := filepath.Join(dir, "cluster-"+name)
		if err := os.RemoveAll(clusterDir); err != nil {
			return nil, err
		}
		wg.Go(func() {
			started[i], errs[i] = cluster.Start(ctx, cluster.Options{Dir: clusterDir,
				Logf: func(f string, a ...any) { logf(name+": "+f, a...) }})
			if errs[i] != nil {
				errs[i] = fmt.Errorf("cluster %s: %w", name, errs[i])
			}
		})
	}
	wg.Wait()
	out := map[string]*cluster.Cluster{}
	for i, c := range started {
		if c != nil {
			out[names[i]] = c
		}
	}
	return out, errors.Join(errs...)
}
