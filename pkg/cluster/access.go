package cluster

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// ErrWriteRefused is returned for every non-read request: both plugins read
// the cluster only; cub-traderx changes it through ConfigHub.
var ErrWriteRefused = errors.New("refused: this client is read-only (changes go through ConfigHub)")

// ReadOnly returns a copy of cfg whose transport refuses every request that
// is not GET, HEAD or OPTIONS, before it leaves the process.
func ReadOnly(cfg *rest.Config) *rest.Config {
	out := rest.CopyConfig(cfg)
	out.Wrap(func(rt http.RoundTripper) http.RoundTripper { return readOnly{rt} })
	return out
}

type readOnly struct{ next http.RoundTripper }

func (r readOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return r.next.RoundTrip(req)
	}
	return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, ErrWriteRefused)
}

// WrappedRoundTripper lets client-go reach the transport underneath, to
// cancel a request that timed out.
func (r readOnly) WrappedRoundTripper() http.RoundTripper { return r.next }

// Access is a read-only connection to the cluster named by ConfigFlags.
type Access struct {
	Config *rest.Config
	Client kubernetes.Interface
	// Namespace is -n when given, else empty (the environment decides).
	Namespace string
	Host      string
}

// Connect builds read-only clients from kubectl-style flags.
func Connect(flags *genericclioptions.ConfigFlags) (*Access, error) {
	cfg, err := flags.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig: %w (check --kubeconfig and --context)", err)
	}
	cfg = ReadOnly(cfg)
	cfg.QPS, cfg.Burst = 50, 100
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	ns := ""
	if flags.Namespace != nil {
		ns = *flags.Namespace
	}
	return &Access{Config: cfg, Client: client, Namespace: ns, Host: cfg.Host}, nil
}

// Explain turns an API error into one actionable sentence.
func Explain(err error, verb, resource, namespace string) error {
	where := ""
	if namespace != "" {
		where = " in namespace " + namespace
	}
	switch {
	case apierrors.IsForbidden(err):
		return fmt.Errorf("forbidden: needs %s on %s%s (grant the traderx-viewer role): %w", verb, resource, where, err)
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("unauthorized: the cluster rejected the credentials (refresh them, or check --context): %w", err)
	case isUnreachable(err):
		return fmt.Errorf("cannot reach the cluster (%s): is the context right? (--context, --kubeconfig): %w", hostOf(err), err)
	}
	return fmt.Errorf("%s %s%s: %w", verb, resource, where, err)
}

func isUnreachable(err error) bool {
	var ne net.Error
	var ue *url.Error
	return errors.As(err, &ne) || errors.As(err, &ue) || strings.Contains(err.Error(), "connection refused")
}

func hostOf(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			return u.Host
		}
	}
	return "unknown host"
}
