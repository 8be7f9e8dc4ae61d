package health

import (
	"context"
	"fmt"
	"strconv"

	"k8s.io/client-go/kubernetes"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/cluster"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// Prober fetches a service's HTTP path.
type Prober interface {
	Get(ctx context.Context, namespace, service string, port int32, path string) error
}

// ServiceProxyProber goes through the API server's service proxy, so probes
// work from a laptop without port-forwards (and need only get on
// services/proxy).
type ServiceProxyProber struct{ Client kubernetes.Interface }

// Get performs GET <path> on the service through the API server.
func (p ServiceProxyProber) Get(ctx context.Context, namespace, service string, port int32, path string) error {
	_, err := p.Client.CoreV1().Services(namespace).ProxyGet("http", service, strconv.Itoa(int(port)), path, nil).DoRaw(ctx)
	return err
}

// probeChecks probe the health endpoint of every selected service that has
// one; a failed probe is a warning, since the API server's proxy path adds
// failure modes of its own.
func probeChecks(ctx context.Context, p Prober, s *cluster.Snapshot, env traderx.Environment, o Options) []check.Check {
	services, err := traderx.LookupServices(o.Services)
	if err != nil || !s.NamespaceActive() {
		return nil
	}
	var out []check.Check
	for _, svc := range services {
		c := check.Check{Suite: SuiteProbe, Name: "http-probe", Target: svc.Name}
		if svc.HealthPath == "" {
			c.Status, c.Message = check.StatusSkip, "no HTTP health endpoint in the v1 image (judged by TCP probes only)"
			out = append(out, c)
			continue
		}
		if err := p.Get(ctx, s.Namespace, svc.Name, svc.Port, svc.HealthPath); err != nil {
			c.Status, c.Message = check.StatusWarn, fmt.Sprintf("GET %s:%d%s failed: %v", svc.Name, svc.Port, svc.HealthPath, err)
			c.Hint = "the pods may be running but not serving; check the logs of " + svc.Name
		} else {
			c.Status, c.Message = check.StatusPass, fmt.Sprintf("GET %s:%d%s answered", svc.Name, svc.Port, svc.HealthPath)
		}
		out = append(out, c)
	}
	return out
}
