package kubectl

import (
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/envcluster"
)

// newResolver maps environments to clusters from --kubeconfig, --context, the
// user's mapping file and, when hub is not nil, the environments' ConfigHub
// targets. Without ConfigHub credentials (hub nil) kubectl cannot see the
// targets: an environment the flag and the file do not map is read on the
// current context, and the report says so (its cluster's source).
func newResolver(flags *genericclioptions.ConfigFlags, getenv func(string) string, home, project string, hub *confighub.Client) (*envcluster.Resolver, error) {
	path := envcluster.DefaultPath(getenv, home)
	file, err := envcluster.Load(path)
	if err != nil {
		return nil, cli.UsageError(err)
	}
	r := &envcluster.Resolver{File: file, FilePath: path, Project: project}
	if flags != nil {
		r.Kubeconfig, r.Flag = deref(flags.KubeConfig), deref(flags.Context)
	}
	if hub != nil { // a nil *Client in the interface would not be nil
		r.Targets = hub
	}
	return r, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// clusterError gives a resolution error its exit code: the mapping is the
// user's to fix (2); a ConfigHub that cannot be read is 3.
func clusterError(err error) error {
	if envcluster.IsInput(err) {
		return cli.UsageError(err)
	}
	return cli.Unavailable(err)
}

// clusterRef is the cluster as a report names it.
func clusterRef(c envcluster.Cluster) *check.Cluster {
	return &check.Cluster{Context: c.Context, Server: c.Server, Source: string(c.Source)}
}
