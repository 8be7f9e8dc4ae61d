package health

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/cluster"
	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

var update = flag.Bool("update", false, "rewrite golden files")

func find(r *check.Report, target, name string) *check.Check {
	for i, c := range r.Checks {
		if c.Target == target && c.Name == name {
			return &r.Checks[i]
		}
	}
	return nil
}

func TestHealthySnapshotIsHealthy(t *testing.T) {
	for _, envName := range traderx.EnvironmentNames() {
		s, env := healthySnapshot(t, envName)
		r := Evaluate(s, env, Options{})
		if r.Verdict != check.VerdictHealthy {
			for _, c := range r.Checks {
				if c.Status != check.StatusPass {
					t.Logf("%s %s %s: %s", c.Status, c.Target, c.Name, c.Message)
				}
			}
			t.Errorf("%s: verdict %s, want HEALTHY (%s)", envName, r.Verdict, r.Reason)
		}
	}
}

func podOf(s *cluster.Snapshot, prefix string) *corev1.Pod {
	for i := range s.Pods {
		if strings.HasPrefix(s.Pods[i].Name, prefix) {
			return &s.Pods[i]
		}
	}
	return nil
}

// Each mutation breaks one thing; the named check must FAIL (or WARN) for
// that reason, and the verdict must follow.
func TestEvaluateFindsEachProblem(t *testing.T) {
	tests := []struct {
		name        string
		mutate      func(*cluster.Snapshot)
		opts        Options
		target      string
		check       string
		wantStatus  check.Status
		wantMessage string
		wantVerdict check.Verdict
	}{
		{"deployment deleted", func(s *cluster.Snapshot) {
			s.Deployments = without(s.Deployments, "trade-feed")
		}, Options{}, "trade-feed", "deployment-exists", check.StatusFail, "Deployment trade-feed not found", check.VerdictUnhealthy},
		{"scaled to zero", func(s *cluster.Snapshot) {
			d := s.Deployment("account-service")
			zero := int32(0)
			d.Spec.Replicas = &zero
		}, Options{}, "account-service", "rollout-complete", check.StatusFail, "scaled to zero", check.VerdictUnhealthy},
		{"rollout in progress", func(s *cluster.Snapshot) {
			d := s.Deployment("people-service")
			d.Generation = 2
		}, Options{}, "people-service", "rollout-complete", check.StatusWarn, "rollout in progress", check.VerdictDegraded},
		{"namespace terminating", func(s *cluster.Snapshot) {
			s.NamespaceObject.Status.Phase = corev1.NamespaceTerminating
		}, Options{}, "namespace/traderx-prod", "namespace-active", check.StatusFail, "namespace traderx-prod is Terminating", check.VerdictUnhealthy},
		{"progress deadline exceeded", func(s *cluster.Snapshot) {
			d := s.Deployment("people-service")
			d.Status.AvailableReplicas = 0
			d.Status.Conditions = []appsv1.DeploymentCondition{
				{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded"},
			}
		}, Options{}, "people-service", "rollout-complete", check.StatusFail, "rollout failed: Progress deadline exceeded", check.VerdictUnhealthy},
		{"no replica available", func(s *cluster.Snapshot) {
			d := s.Deployment("people-service")
			d.Status.ReadyReplicas, d.Status.AvailableReplicas = 0, 0
		}, Options{}, "people-service", "rollout-complete", check.StatusFail, "no replica available", check.VerdictUnhealthy},
		{"crash loop", func(s *cluster.Snapshot) {
			p := podOf(s, "trade-service-blue")
			p.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
			p.Status.ContainerStatuses[0].RestartCount = 2
		}, Options{}, "trade-service", "pods-crashloop", check.StatusFail, "CrashLoopBackOff (2 restarts)", check.VerdictUnhealthy},
		{"image pull", func(s *cluster.Snapshot) {
			p := podOf(s, "reference-data-blue")
			p.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull"}}
		}, Options{}, "reference-data", "pods-image-pull", check.StatusFail, "ErrImagePull", check.VerdictUnhealthy},
		{"failed pod", func(s *cluster.Snapshot) {
			podOf(s, "database").Status.Phase = corev1.PodFailed
		}, Options{}, "database", "pods-failed", check.StatusFail, "phase Failed", check.VerdictUnhealthy},
		{"oomkilled", func(s *cluster.Snapshot) {
			p := podOf(s, "position-service-blue")
			p.Status.ContainerStatuses[0].LastTerminationState.Terminated = &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137}
		}, Options{}, "position-service", "pods-oomkilled", check.StatusWarn, "OOMKilled", check.VerdictDegraded},
		{"restarts above threshold", func(s *cluster.Snapshot) {
			podOf(s, "trade-processor").Status.ContainerStatuses[0].RestartCount = 4
		}, Options{RestartThreshold: 3}, "trade-processor", "pods-restarts", check.StatusWarn, "restarted 4 times", check.VerdictDegraded},
		{"restarts at threshold", func(s *cluster.Snapshot) {
			podOf(s, "trade-processor").Status.ContainerStatuses[0].RestartCount = 3
		}, Options{RestartThreshold: 3}, "trade-processor", "pods-restarts", check.StatusPass, "within threshold", check.VerdictHealthy},
		{"not ready for long", func(s *cluster.Snapshot) {
			p := podOf(s, "web-front-end-angular")
			p.Status.Conditions[0] = corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: metav1.NewTime(fixtureTime.Add(-10 * time.Minute))}
		}, Options{}, "web-front-end-angular", "pods-ready", check.StatusFail, "not ready for 10m0s", check.VerdictUnhealthy},
		{"not ready briefly", func(s *cluster.Snapshot) {
			p := podOf(s, "web-front-end-angular")
			p.Status.Conditions[0] = corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: metav1.NewTime(fixtureTime.Add(-10 * time.Second))}
		}, Options{}, "web-front-end-angular", "pods-ready", check.StatusWarn, "not ready for 10s", check.VerdictDegraded},
		{"service deleted", func(s *cluster.Snapshot) {
			s.Services = withoutService(s.Services, "people-service")
		}, Options{}, "people-service", "service-exists", check.StatusFail, "Service people-service not found", check.VerdictUnhealthy},
		{"dependency down", func(s *cluster.Snapshot) {
			podOf(s, "database").Status.Conditions[0].Status = corev1.ConditionFalse
		}, Options{}, "account-service", "depends-on-database", check.StatusFail, "dependency database is down", check.VerdictUnhealthy},
		{"dependency Service missing", func(s *cluster.Snapshot) {
			s.Services = withoutService(s.Services, "database")
		}, Options{}, "account-service", "depends-on-database", check.StatusFail, "dependency database is down: its Service is missing", check.VerdictUnhealthy},
		{"ingress backend port gone", func(s *cluster.Snapshot) {
			s.Service("trade-feed").Spec.Ports[0].Port = 9999
		}, Options{}, "ingress/traderx-web", "backends-exist", check.StatusFail, "/socket.io/ → Service trade-feed has no port 18086", check.VerdictUnhealthy},
		{"ingress missing", func(s *cluster.Snapshot) {
			s.Ingresses = s.Ingresses[:1]
		}, Options{}, "ingress/traderx-web", "ingress-exists", check.StatusFail, "not found", check.VerdictUnhealthy},
		{"judging a colour that is not running", func(s *cluster.Snapshot) {}, Options{Colours: map[string]string{"reference-data": "green"}},
			"reference-data", "rollout-complete", check.StatusFail, "reference-data-green is scaled to zero", check.VerdictUnhealthy},
		{"green selected but not running", func(s *cluster.Snapshot) {
			s.Service("trade-service").Spec.Selector["color"] = "green"
		}, Options{}, "trade-service", "rollout-complete", check.StatusFail, "trade-service-green is scaled to zero", check.VerdictUnhealthy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, env := healthySnapshot(t, "prod")
			tt.mutate(s)
			refreshEndpoints(s)
			r := Evaluate(s, env, tt.opts)
			c := find(r, tt.target, tt.check)
			if c == nil {
				t.Fatalf("no check %s/%s in %d checks", tt.target, tt.check, len(r.Checks))
			}
			if c.Status != tt.wantStatus || !strings.Contains(c.Message, tt.wantMessage) {
				t.Errorf("%s/%s = %s %q, want %s containing %q", tt.target, tt.check, c.Status, c.Message, tt.wantStatus, tt.wantMessage)
			}
			if c.Status != check.StatusPass && c.Hint == "" {
				t.Errorf("%s/%s has no hint", tt.target, tt.check)
			}
			if r.Verdict != tt.wantVerdict {
				t.Errorf("verdict %s, want %s (%s)", r.Verdict, tt.wantVerdict, r.Reason)
			}
		})
	}
}

func TestMissingNamespaceSkipsTheRest(t *testing.T) {
	s, env := healthySnapshot(t, "dev")
	empty := &cluster.Snapshot{Namespace: s.Namespace, TakenAt: s.TakenAt}
	r := Evaluate(empty, env, Options{})
	if r.Verdict != check.VerdictUnhealthy || r.Summary.Failed != 1 || r.Summary.Skipped != len(traderx.Services()) {
		t.Errorf("verdict %s, summary %+v", r.Verdict, r.Summary)
	}
	if c := find(r, "namespace/traderx-dev", "namespace-active"); c == nil || c.Status != check.StatusFail {
		t.Errorf("namespace check %+v", c)
	}
}

func TestServicesSubset(t *testing.T) {
	s, env := healthySnapshot(t, "dev")
	r := Evaluate(s, env, Options{Services: []string{"database"}})
	judged := map[string]bool{}
	for _, c := range r.Checks {
		judged[c.Target] = true
		if c.Target != "database" && c.Target != "namespace/traderx-dev" {
			t.Errorf("check outside the subset: %s %s", c.Target, c.Name)
		}
	}
	// An empty report would pass the loop above: the subset must be judged.
	for _, target := range []string{"database", "namespace/traderx-dev"} {
		if !judged[target] {
			t.Errorf("no check of %s in %d checks", target, len(r.Checks))
		}
	}
	if find(r, "database", "deployment-exists") == nil || find(r, "database", "endpoints-ready") == nil {
		t.Errorf("database's Deployment and Service were not judged: %+v", r.Checks)
	}
}

type fakeSync struct {
	units []UnitSync
	err   error
}

func (f fakeSync) Units(context.Context, traderx.Environment) ([]UnitSync, error) {
	return f.units, f.err
}

var (
	noDrift = confighub.Drift{Known: true, RefreshedAt: time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)}
	drifted = confighub.Drift{Known: true, Drifted: true, RefreshedAt: time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)}
)

func TestSyncChecks(t *testing.T) {
	env, _ := traderx.LookupEnvironment("dev")
	tests := []struct {
		name string
		src  fakeSync
		want []check.Status
	}{
		{"synced, never refreshed", fakeSync{units: []UnitSync{{Unit: "a", Head: 3, Live: 3}}},
			[]check.Status{check.StatusPass, check.StatusSkip}},
		{"synced, not drifted", fakeSync{units: []UnitSync{{Unit: "a", Head: 3, Live: 3, Drift: noDrift}}},
			[]check.Status{check.StatusPass, check.StatusPass}},
		{"one unit unknown", fakeSync{units: []UnitSync{{Unit: "a", Head: 3, Live: 3, Drift: noDrift}, {Unit: "b", Head: 1, Live: 1}}},
			[]check.Status{check.StatusPass, check.StatusPass, check.StatusSkip}},
		{"unapplied", fakeSync{units: []UnitSync{{Unit: "a", Head: 4, Live: 3}}}, []check.Status{check.StatusWarn, check.StatusSkip}},
		{"never applied", fakeSync{units: []UnitSync{{Unit: "a", Head: 1}}}, []check.Status{check.StatusWarn, check.StatusSkip}},
		{"drifted", fakeSync{units: []UnitSync{{Unit: "a", Head: 2, Live: 2, Drift: drifted}, {Unit: "b", Head: 1, Live: 1}}},
			[]check.Status{check.StatusPass, check.StatusPass, check.StatusWarn}},
		{"unreachable", fakeSync{err: errors.New("connection refused")}, []check.Status{check.StatusWarn}},
		{"not installed", fakeSync{}, []check.Status{check.StatusWarn}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []check.Status
			for _, c := range syncChecks(context.Background(), tt.src, env) {
				got = append(got, c.Status)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// unhealthyDev is dev with trade-service's active pod crash-looping.
func unhealthyDev(t *testing.T) (*cluster.Snapshot, traderx.Environment) {
	s, env := healthySnapshot(t, "dev")
	p := podOf(s, "trade-service-blue")
	p.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
	p.Status.ContainerStatuses[0].RestartCount = 7
	p.Status.Conditions[0].Status = corev1.ConditionFalse
	refreshEndpoints(s)
	return s, env
}

// Golden files pin the machine formats of an UNHEALTHY environment: their
// schema is documented in docs/output.md and must not change.
func TestGoldenOutput(t *testing.T) {
	s, env := unhealthyDev(t)
	r := Evaluate(s, env, Options{})
	for _, f := range []check.Format{check.FormatJSON, check.FormatJUnit} {
		var buf bytes.Buffer
		if err := check.Render(&buf, *r, check.RenderOptions{Format: f, GroupBy: check.GroupByTarget}); err != nil {
			t.Fatal(err)
		}
		golden(t, "unhealthy-dev."+string(f)+".golden", buf.Bytes())
	}
}

// Golden files pin what an operator reads, as a whole run shows it (with the
// ConfigHub line): the compact view at 80 and 100 columns and the wide view,
// which does not depend on the width.
func TestGoldenViews(t *testing.T) {
	healthy := func(t *testing.T) (*cluster.Snapshot, traderx.Environment) { return healthySnapshot(t, "dev") }
	for name, fixture := range map[string]func(*testing.T) (*cluster.Snapshot, traderx.Environment){
		"healthy-dev": healthy, "unhealthy-dev": unhealthyDev,
	} {
		t.Run(name, func(t *testing.T) {
			s, env := fixture(t)
			r := Judge(context.Background(), s, env, Options{})
			ov := Overview(s, env, Options{}, r)
			var wide []byte
			for _, width := range []int{80, 100} {
				for _, f := range []check.Format{check.FormatTable, check.FormatWide} {
					var buf bytes.Buffer
					err := check.Render(&buf, *r, check.RenderOptions{Format: f, GroupBy: check.GroupByTarget, Overview: &ov, Width: width})
					if err != nil {
						t.Fatal(err)
					}
					if f == check.FormatWide {
						if wide != nil && !bytes.Equal(wide, buf.Bytes()) {
							t.Errorf("the wide view depends on the width")
						}
						wide = buf.Bytes()
						continue
					}
					for i, line := range strings.Split(buf.String(), "\n") {
						// Hints are commands, kept whole to be copied.
						if w := utf8.RuneCountInString(line); w > width && !strings.Contains(line, "→") {
							t.Errorf("line %d is %d wide at width %d: %q", i+1, w, width, line)
						}
					}
					golden(t, fmt.Sprintf("%s.table-%d.golden", name, width), buf.Bytes())
				}
			}
			golden(t, name+".wide.golden", wide)
		})
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/health -update)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("output differs from %s (-want +got):\n%s", path, diff)
	}
}

func without(ds []appsv1.Deployment, name string) []appsv1.Deployment {
	var out []appsv1.Deployment
	for _, d := range ds {
		if d.Name != name {
			out = append(out, d)
		}
	}
	return out
}

func withoutService(ss []corev1.Service, name string) []corev1.Service {
	var out []corev1.Service
	for _, s := range ss {
		if s.Name != name {
			out = append(out, s)
		}
	}
	return out
}
