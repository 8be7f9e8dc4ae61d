package cluster

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
)

var secretsResource = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}

// SecretsPresent reports which of the named Secrets exist in a namespace. It
// asks the API server for metadata only (PartialObjectMetadata), so secret
// values never reach this process.
func SecretsPresent(ctx context.Context, cfg *rest.Config, namespace string, names []string) (map[string]bool, error) {
	client, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, name := range names {
		_, err := client.Resource(secretsResource).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			out[name] = false
		case err != nil:
			return nil, Explain(err, "get", "secrets/"+name, namespace)
		default:
			out[name] = true
		}
	}
	return out, nil
}
