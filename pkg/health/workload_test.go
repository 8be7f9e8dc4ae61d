package health

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/finos/traderx-plugins/pkg/cluster"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// Each mutation of a healthy prod (3 trade-service replicas) must show in the verdict on
// one Deployment: its counts and, by kind, its diagnoses. Every want is a
// list of substrings, one per diagnosis line.
func TestJudgeDeployment(t *testing.T) {
	crash := func(s *cluster.Snapshot) {
		p := podOf(s, "trade-service-blue")
		p.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
		p.Status.ContainerStatuses[0].RestartCount = 2
	}
	tests := []struct {
		name            string
		mutate          func(*cluster.Snapshot)
		service, colour string
		wantDeployment  string
		wantFound       bool
		wantReady       int32
		wantRolledOut   bool
		wantStuck       []string
		wantPending     []string
		wantRestarted   []string
	}{
		{"healthy colour", func(*cluster.Snapshot) {}, "trade-service", "blue", "trade-service-blue", true, 3, true, nil, nil, nil},
		{"service without colours", func(*cluster.Snapshot) {}, "people-service", "", "people-service", true, 2, true, nil, nil, nil},
		{"standby colour at zero", func(*cluster.Snapshot) {}, "trade-service", "green", "trade-service-green", true, 0, true,
			nil, []string{"rollout-complete: Deployment trade-service-green is scaled to zero"}, nil},
		{"crash loop", crash, "trade-service", "blue", "trade-service-blue", true, 3, true,
			[]string{"pods-crashloop: trade-service-blue-0: trade-service in CrashLoopBackOff (2 restarts)"}, nil,
			[]string{"pod trade-service-blue-0: container trade-service restarted 2 time(s)"}},
		{"image pull", func(s *cluster.Snapshot) {
			p := podOf(s, "trade-service-blue")
			p.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff"}}
		}, "trade-service", "blue", "trade-service-blue", true, 3, true, []string{"pods-image-pull: trade-service-blue-0: trade-service: ImagePullBackOff"}, nil, nil},
		{"failed pod", func(s *cluster.Snapshot) {
			podOf(s, "trade-service-blue").Status.Phase = corev1.PodFailed
		}, "trade-service", "blue", "trade-service-blue", true, 3, true, []string{"pods-failed: trade-service-blue-0: phase Failed"}, nil, nil},
		{"one restart, under the threshold", func(s *cluster.Snapshot) {
			podOf(s, "trade-service-blue").Status.ContainerStatuses[0].RestartCount = 1
		}, "trade-service", "blue", "trade-service-blue", true, 3, true, nil, nil,
			[]string{"pod trade-service-blue-0: container trade-service restarted 1 time(s)"}},
		{"OOM kill is neither stuck nor pending", func(s *cluster.Snapshot) {
			p := podOf(s, "trade-service-blue")
			p.Status.ContainerStatuses[0].LastTerminationState.Terminated = &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137}
		}, "trade-service", "blue", "trade-service-blue", true, 3, true, nil, nil, nil},
		{"pod starting", func(s *cluster.Snapshot) {
			p := podOf(s, "trade-service-blue")
			p.Status.Conditions[0] = corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: metav1.NewTime(fixtureTime.Add(-10 * time.Second))}
		}, "trade-service", "blue", "trade-service-blue", true, 2, true, nil, []string{"pods-ready: trade-service-blue-0: not ready for 10s"}, nil},
		{"rollout not observed", func(s *cluster.Snapshot) {
			s.Deployment("trade-service-blue").Generation = 2
		}, "trade-service", "blue", "trade-service-blue", true, 3, false, nil, []string{"rollout-complete: rollout in progress"}, nil},
		{"deployment missing", func(s *cluster.Snapshot) {
			s.Deployments = without(s.Deployments, "trade-service-blue")
		}, "trade-service", "blue", "trade-service-blue", false, 0, false, nil, []string{"deployment-exists: Deployment trade-service-blue not found"}, nil},
		{"namespace terminating: no checks", func(s *cluster.Snapshot) {
			s.NamespaceObject.Status.Phase = corev1.NamespaceTerminating
			crash(s)
		}, "trade-service", "blue", "trade-service-blue", true, 3, true, nil, nil,
			[]string{"pod trade-service-blue-0: container trade-service restarted 2 time(s)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, env := healthySnapshot(t, "prod")
			tt.mutate(s)
			svc, err := traderx.LookupService(tt.service)
			if err != nil {
				t.Fatal(err)
			}
			w := JudgeDeployment(s, env, svc, tt.colour, Options{})
			if w.Deployment != tt.wantDeployment || w.Found != tt.wantFound || w.Ready != tt.wantReady || w.RolledOut != tt.wantRolledOut {
				t.Errorf("got %s found=%v ready=%d rolledOut=%v, want %s found=%v ready=%d rolledOut=%v",
					w.Deployment, w.Found, w.Ready, w.RolledOut, tt.wantDeployment, tt.wantFound, tt.wantReady, tt.wantRolledOut)
			}
			matchLines(t, "Stuck", w.Stuck(), tt.wantStuck)
			matchLines(t, "Pending", w.Pending(), tt.wantPending)
			matchLines(t, "Restarted", w.Restarted(), tt.wantRestarted)
			for _, p := range w.Pods {
				if p.Image != svc.Image(env.ImageTag) {
					t.Errorf("pod %s: image %q, want %q", p.Name, p.Image, svc.Image(env.ImageTag))
				}
			}
		})
	}
}

func matchLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = strings.Contains(got[i], want[i])
	}
	if !ok {
		t.Errorf("%s = %q, want lines containing %q", what, got, want)
	}
}

func TestEndpointsOnly(t *testing.T) {
	notReady := func(s *cluster.Snapshot) {
		for i := range s.Pods {
			if strings.HasPrefix(s.Pods[i].Name, "trade-service-blue") {
				s.Pods[i].Status.Conditions[0].Status = corev1.ConditionFalse
			}
		}
		refreshEndpoints(s)
	}
	tests := []struct {
		name   string
		mutate func(*cluster.Snapshot)
		colour string
		want   string
		wantOK bool
	}{
		{"only the selected colour", func(*cluster.Snapshot) {}, "blue", "3 ready endpoint(s), all blue pods", true},
		{"selector on the other colour", func(*cluster.Snapshot) {}, "green", `the live Service selects "blue"`, false},
		{"Service missing", func(s *cluster.Snapshot) { s.Services = withoutService(s.Services, "trade-service") }, "blue",
			"Service trade-service not found", false},
		{"an old pod still listed", func(s *cluster.Snapshot) {
			s.EndpointSlices = append(s.EndpointSlices, discoveryv1.EndpointSlice{
				ObjectMeta: metav1.ObjectMeta{Name: "trade-service-y", Labels: map[string]string{discoveryv1.LabelServiceName: "trade-service"}},
				Endpoints:  []discoveryv1.Endpoint{{Addresses: []string{"10.244.0.2"}, TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: "trade-service-green-0"}}},
			})
		}, "blue", "endpoints of other pods remain: trade-service-green-0", false},
		{"no ready endpoint", notReady, "blue", "no ready blue endpoint yet (3 listed)", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := healthySnapshot(t, "prod")
			tt.mutate(s)
			svc, err := traderx.LookupService("trade-service")
			if err != nil {
				t.Fatal(err)
			}
			got, ok := EndpointsOnly(s, svc, tt.colour)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("EndpointsOnly = %q, %v; want %q, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
