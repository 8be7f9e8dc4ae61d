package envcluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/finos/traderx-plugins/pkg/cluster"
	"github.com/finos/traderx-plugins/pkg/hint"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// Resolver maps the environments of one run to their clusters. It is safe
// for concurrent use (--all resolves every environment at once).
type Resolver struct {
	// Kubeconfig is --kubeconfig; empty: $KUBECONFIG, else ~/.kube/config.
	Kubeconfig string
	// Flag is --context (cub: --kube-context); it wins for every environment.
	Flag string
	// File is the user's mapping, read from FilePath; nil means none.
	File     *File
	FilePath string
	// Targets reads the environments' ConfigHub targets; nil when there are
	// no ConfigHub credentials: the target's KubeContext is then not consulted.
	Targets TargetReader
	Project string

	once sync.Once
	raw  clientcmdapi.Config
	err  error
}

// InputError is a mapping problem the user fixes (exit 2): a kubeconfig that
// does not load, an unknown context, none at all, or a mapping file or target
// that cannot be used. Anything else a Resolver returns is a ConfigHub that
// could not be read (exit 3).
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// IsInput reports whether err is the user's to fix (exit 2).
func IsInput(err error) bool {
	var ie *InputError
	return errors.As(err, &ie)
}

func (r *Resolver) kubeconfig() (clientcmdapi.Config, error) {
	r.once.Do(func() {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		rules.ExplicitPath = r.Kubeconfig
		r.raw, r.err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).RawConfig()
		if r.err != nil {
			r.err = &InputError{fmt.Errorf("load kubeconfig: %w (check --kubeconfig and $KUBECONFIG)", r.err)}
		}
	})
	return r.raw, r.err
}

// Resolve says which cluster env is judged on: its context, where the
// context came from, and the context's server.
func (r *Resolver) Resolve(ctx context.Context, env traderx.Environment) (Cluster, error) {
	raw, err := r.kubeconfig()
	if err != nil {
		return Cluster{}, err
	}
	in := Inputs{Env: env.Name, Flag: r.Flag, FilePath: r.FilePath, Current: raw.CurrentContext}
	for name := range raw.Contexts {
		in.Known = append(in.Known, name)
	}
	slices.Sort(in.Known)
	if r.File != nil {
		in.File = r.File.Contexts[env.Name]
	}
	// ConfigHub is asked only when nothing before it decides: the flag and
	// the file work without credentials and without a reachable ConfigHub.
	if in.Flag == "" && in.File == "" && r.Targets != nil {
		in.Target, in.TargetName, err = TargetContext(ctx, r.Targets, env.Space(r.Project))
		if err != nil {
			return Cluster{}, fmt.Errorf("environment %s: %w (or map its context: %s)", env.Name, err, hint.SetContext(env.Name, hint.Context))
		}
	}
	c, err := Resolve(in)
	if err != nil {
		return Cluster{}, &InputError{err}
	}
	if kc := raw.Contexts[c.Context]; kc != nil {
		if cl := raw.Clusters[kc.Cluster]; cl != nil {
			c.Server = cl.Server
		}
	}
	return c, nil
}

// Connect resolves env and opens a read-only connection to its cluster.
func (r *Resolver) Connect(ctx context.Context, env traderx.Environment) (*cluster.Access, Cluster, error) {
	c, err := r.Resolve(ctx, env)
	if err != nil {
		return nil, c, err
	}
	flags := genericclioptions.NewConfigFlags(false)
	kubeconfig, kubeContext := r.Kubeconfig, c.Context
	flags.KubeConfig, flags.Context = &kubeconfig, &kubeContext
	access, err := cluster.Connect(flags)
	if err != nil {
		return nil, c, &InputError{fmt.Errorf("environment %s, context %s: %w", env.Name, c.Context, err)}
	}
	return access, c, nil
}
