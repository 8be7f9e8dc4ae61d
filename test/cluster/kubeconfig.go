package cluster

import (
	"fmt"
	"maps"
	"slices"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// WriteKubeconfig writes one kubeconfig reaching several local control
// planes: each admin kubeconfig (whose context is KubeContext) becomes a
// context, cluster and user named by its key in byContext. current is the
// current context.
func WriteKubeconfig(path, current string, byContext map[string]*Cluster) error {
	if byContext[current] == nil {
		return fmt.Errorf("current context %q is none of the clusters", current)
	}
	out := clientcmdapi.NewConfig()
	for _, name := range slices.Sorted(maps.Keys(byContext)) {
		in, err := clientcmd.LoadFromFile(byContext[name].Kubeconfig)
		if err != nil {
			return err
		}
		ctx := in.Contexts[KubeContext]
		if ctx == nil || in.Clusters[ctx.Cluster] == nil || in.AuthInfos[ctx.AuthInfo] == nil {
			return fmt.Errorf("%s has no complete context %s", byContext[name].Kubeconfig, KubeContext)
		}
		out.Clusters[name] = in.Clusters[ctx.Cluster]
		out.AuthInfos[name] = in.AuthInfos[ctx.AuthInfo]
		out.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	}
	out.CurrentContext = current
	return clientcmd.WriteToFile(*out, path)
}
