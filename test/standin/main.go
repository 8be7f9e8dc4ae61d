// Command standin runs the ConfigHub API stand-in (pkg/confighub/confighubtest)
// as a process for the sandbox: the worker server-side-applies every target's
// units to the cluster of --kubeconfig.
//
//	standin --listen 127.0.0.1:0 --token-file token --kubeconfig kubeconfig --addr-file addr
//
// The token file holds the bearer token as plain text; a random one is
// generated (mode 0600) if the file is absent. The chosen URL (without /api,
// i.e. the CUB_SERVER value) is written to --addr-file. SIGTERM/SIGINT stop it.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/finos/traderx-plugins/pkg/confighub/confighubtest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "standin:", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	tokenFile := flag.String("token-file", "", "bearer token file (created with a random token if absent)")
	kubeconfig := flag.String("kubeconfig", "", "cluster the workers apply to, through its current context (empty: no cluster, applies just succeed)")
	addrFile := flag.String("addr-file", "", "file to write the server URL to")
	workerSpaces := flag.String("worker-spaces", "traderx-dev,traderx-staging,traderx-prod",
		"comma-separated spaces to run a bridge worker in (created when missing), as cub worker run does")
	workerDelay := flag.Duration("worker-delay", 0, "pause in each worker operation")
	verbose := flag.Bool("v", false, "debug logging")
	flag.Parse()

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	if *tokenFile == "" {
		return errors.New("--token-file is required")
	}
	token, err := loadOrCreateToken(*tokenFile)
	if err != nil {
		return err
	}
	var backend confighubtest.Backend = confighubtest.NoopBackend{}
	var contexts []string
	if *kubeconfig != "" {
		kc, err := clientcmd.LoadFromFile(*kubeconfig)
		if err != nil {
			return fmt.Errorf("kubeconfig %s: %w", *kubeconfig, err)
		}
		kb := confighubtest.NewKubeBackend(confighubtest.KubeconfigContexts(*kubeconfig))
		kb.Logger = log
		backend, contexts = kb, []string{kc.CurrentContext}
	} else {
		log.Warn("no --kubeconfig: applies succeed without touching any cluster")
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := confighubtest.New(confighubtest.WithToken(token), confighubtest.WithLogger(log))
	defer srv.Close()
	srv.URL = "http://" + ln.Addr().String()
	if *addrFile != "" {
		if err := writeAtomic(*addrFile, []byte(srv.URL+"\n"), 0o644); err != nil {
			return err
		}
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	log.Info("ConfigHub stand-in listening", "url", srv.URL, "kubeconfig", *kubeconfig)
	for _, sp := range strings.Split(*workerSpaces, ",") {
		if sp = strings.TrimSpace(sp); sp == "" {
			continue
		}
		w, err := srv.StartWorker(ctx, sp, "traderx-worker", contexts, backend,
			confighubtest.WithWorkerLogger(log), confighubtest.WithOperationDelay(*workerDelay))
		if err != nil {
			return fmt.Errorf("worker of space %s: %w", sp, err)
		}
		defer w.Stop()
	}

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return hs.Shutdown(sctx)
}

func loadOrCreateToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		s := strings.TrimSpace(string(b))
		if strings.HasPrefix(s, "{") { // a cub token file
			var tf struct {
				AccessToken string `json:"accessToken"`
			}
			if json.Unmarshal([]byte(s), &tf) == nil {
				s = tf.AccessToken
			}
		}
		if s == "" {
			return "", fmt.Errorf("token file %s is empty", path)
		}
		return s, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	tok := "standin-" + hex.EncodeToString(raw)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	if err := writeAtomic(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", err
	}
	return tok, nil
}

func writeAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".standin-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
