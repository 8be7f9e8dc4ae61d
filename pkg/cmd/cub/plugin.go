package cub

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/plugins"
)

// Plugin contract of newer cub (see shared/confighub-api.md §2).
const (
	// HookEnv is set to install or upgrade when cub runs the binary as an install hook.
	HookEnv = "CUB_PLUGIN_HOOK"
	// HookDirEnv is the staging directory the manifest must be written to.
	HookDirEnv = "CUB_PLUGIN_DIR"
	// ManifestFile is the plugin manifest cub reads from the slot directory.
	ManifestFile = "cub-plugin.yaml"
	// CommandName is the token typed after cub.
	CommandName = "traderx"
)

// Run is the whole program: the install/upgrade hook when cub asks for it,
// else the command tree. argv0 names the binary (for the manifest's
// entrypoint). It returns the exit code.
func Run(argv0 string, args []string, streams genericiooptions.IOStreams, env Env) int {
	env = env.withDefaults()
	if hook := env.Getenv(HookEnv); hook != "" {
		return runHook(hook, env.Getenv(HookDirEnv), argv0, streams.ErrOut)
	}
	// Ctrl-C or SIGTERM cancels the command's context: waits stop and
	// nothing new is queued, and the command says how to resume.
	ctx, stop := cli.NotifyInterrupt(context.Background(), streams.ErrOut)
	defer stop()
	root := NewRootCommandWith(streams, env)
	root.SetContext(ctx)
	return cli.Execute(root, args, streams.ErrOut)
}

// runHook writes cub-plugin.yaml into the staging directory and returns at
// once. cub ignores the exit code; a failure is still reported on stderr.
func runHook(hook, dir, argv0 string, stderr io.Writer) int {
	if hook != "install" && hook != "upgrade" {
		fmt.Fprintf(stderr, "%s: unknown %s=%q (want install or upgrade); nothing done\n", Name, HookEnv, hook)
		return cli.ExitUsage
	}
	if dir == "" {
		fmt.Fprintf(stderr, "%s: %s is set but %s is empty; nothing done\n", Name, HookEnv, HookDirEnv)
		return cli.ExitUsage
	}
	entry := filepath.Base(argv0)
	if exe, err := os.Executable(); err == nil && filepath.Dir(exe) == filepath.Clean(dir) {
		entry = filepath.Base(exe)
	}
	b, err := plugins.CubManifest(cli.Build().Version, entry)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", Name, err)
		return cli.ExitFailed
	}
	path := filepath.Join(dir, ManifestFile)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		fmt.Fprintf(stderr, "%s: write %s: %v\n", Name, path, err)
		return cli.ExitFailed
	}
	fmt.Fprintf(stderr, "%s: %s hook: wrote %s (command %q, entrypoint %q)\n", Name, hook, path, CommandName, entry)
	return cli.ExitOK
}
