package health

import (
	"context"
	"errors"
	"testing"

	"github.com/finos/traderx-plugins/pkg/check"
)

type fakeProber map[string]error

func (f fakeProber) Get(_ context.Context, _, service string, _ int32, _ string) error {
	return f[service]
}

// A service with an HTTP health endpoint is probed (a failure is a warning);
// one without is skipped, never counted as passed.
func TestProbeChecks(t *testing.T) {
	s, env := healthySnapshot(t, "dev")
	p := fakeProber{"reference-data": errors.New("503 Service Unavailable")}
	got := map[string]check.Status{}
	for _, c := range probeChecks(context.Background(), p, s, env, Options{}) {
		got[c.Target] = c.Status
	}
	want := map[string]check.Status{
		"reference-data":   check.StatusWarn, // /health failed
		"position-service": check.StatusPass, // /health/ready answered
		"database":         check.StatusSkip, // TCP only
		"people-service":   check.StatusSkip,
	}
	for target, status := range want {
		if got[target] != status {
			t.Errorf("%s: %s, want %s", target, got[target], status)
		}
	}
}
