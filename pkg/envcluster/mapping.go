// Package envcluster maps a TraderX environment to the kube context of the
// cluster it runs on, the one mapping both plugins read a cluster through.
//
// The context comes from, first to last: --context (cub: --kube-context), the
// user's mapping file (see File), the KubeContext parameter of the ConfigHub
// target the environment's units are bound to, and the kubeconfig's current
// context. A context that is named but absent from the kubeconfig is an error,
// never a reason to try the next source: judging another cluster than the one
// meant is worse than judging none.
package envcluster

import (
	"fmt"
	"slices"
	"strings"

	"github.com/finos/traderx-plugins/pkg/hint"
)

// Source says where an environment's context came from.
type Source string

const (
	SourceFlag    Source = "flag"
	SourceFile    Source = "config file"
	SourceTarget  Source = "ConfigHub target"
	SourceCurrent Source = "current context"
)

// Inputs are what the mapping is decided from, every source already read.
type Inputs struct {
	Env string
	// Flag is --context / --kube-context; it applies to every environment.
	Flag string
	// File is the context the user's mapping file gives the environment.
	File string
	// FilePath names the mapping file in messages.
	FilePath string
	// Target is the KubeContext parameter of the environment's ConfigHub
	// target; TargetName names that target in messages.
	Target, TargetName string
	// Current is the kubeconfig's current context.
	Current string
	// Known are the contexts of the kubeconfig.
	Known []string
}

// Cluster is the cluster an environment was judged on.
type Cluster struct {
	Env     string `json:"-"`
	Context string `json:"context"`
	// Server is the API server URL of the context's cluster.
	Server string `json:"server,omitempty"`
	Source Source `json:"source"`
}

// UnknownContextError is a mapping that names a context the kubeconfig does
// not have: bad input (exit 2), never a fall back to another cluster.
type UnknownContextError struct {
	Env, Context string
	// From says who named it, e.g. "--context" or "the config file ~/.config/traderx/clusters.yaml".
	From  string
	Known []string
}

func (e *UnknownContextError) Error() string {
	known := "none"
	if len(e.Known) > 0 {
		known = strings.Join(e.Known, ", ")
	}
	return fmt.Sprintf("environment %s: %s names kube context %q, which the kubeconfig does not have (it has: %s); "+
		"nothing was read. Fix the mapping (%s) or the kubeconfig",
		e.Env, e.From, e.Context, known, hint.SetContext(e.Env, hint.Context))
}

// NoContextError is an environment no source maps and a kubeconfig without a
// current context.
type NoContextError struct{ Env string }

func (e *NoContextError) Error() string {
	return fmt.Sprintf("environment %s: no kube context: none is mapped and the kubeconfig has no current context; "+
		"map one with %s, or pass --context", e.Env, hint.SetContext(e.Env, hint.Context))
}

// Resolve picks the environment's context by precedence: flag, file, target,
// current. It is pure; Server is left for the caller to fill.
func Resolve(in Inputs) (Cluster, error) {
	var ctx, from string
	var src Source
	switch {
	case in.Flag != "":
		ctx, src, from = in.Flag, SourceFlag, "--context"
	case in.File != "":
		ctx, src, from = in.File, SourceFile, "the config file "+in.FilePath
	case in.Target != "":
		ctx, src, from = in.Target, SourceTarget, "the KubeContext parameter of ConfigHub target "+in.TargetName
	case in.Current != "":
		ctx, src, from = in.Current, SourceCurrent, "the current context"
	default:
		return Cluster{}, &NoContextError{Env: in.Env}
	}
	if !slices.Contains(in.Known, ctx) {
		known := slices.Clone(in.Known)
		slices.Sort(known)
		return Cluster{}, &UnknownContextError{Env: in.Env, Context: ctx, From: from, Known: known}
	}
	return Cluster{Env: in.Env, Context: ctx, Source: src}, nil
}
