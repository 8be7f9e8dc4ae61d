package kubectl

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/hinshun/vt10x"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// watchedService is the service the watch tests break and mend: blue-green,
// so the screen shows its active colour, and without dependencies, so it is
// healthy on its own.
const watchedService = "reference-data"

// fakeEnv is a fake cluster (with watches) where dev's watchedService runs
// one pod; ready says whether the pod and its endpoint are ready.
type fakeEnv struct {
	client *fake.Clientset
	ns     string
	pod    *corev1.Pod
	slice  *discoveryv1.EndpointSlice
}

func newFakeEnv(t *testing.T, ready bool) *fakeEnv {
	t.Helper()
	env, _ := traderx.LookupEnvironment("dev")
	svc, err := traderx.LookupService(watchedService)
	if err != nil || len(svc.Dependencies()) > 0 {
		t.Fatalf("%s must exist and have no dependencies: %v", watchedService, err)
	}
	units, err := manifests.Render(env)
	if err != nil {
		t.Fatal(err)
	}
	var objs []runtime.Object
	var d *appsv1.Deployment
	for _, u := range manifests.Objects(units) {
		switch {
		case u.GetKind() == "Namespace":
			ns := &corev1.Namespace{}
			convert(t, u.Object, ns)
			ns.Status.Phase = corev1.NamespaceActive
			objs = append(objs, ns)
		case u.GetKind() == "Service" && u.GetName() == svc.Name:
			s := &corev1.Service{}
			convert(t, u.Object, s)
			objs = append(objs, s)
		case u.GetKind() == "Deployment" && u.GetName() == svc.DeploymentName(manifests.ActiveColour):
			d = &appsv1.Deployment{}
			convert(t, u.Object, d)
			d.Generation, d.Status.ObservedGeneration = 1, 1
			d.Status.Replicas, d.Status.UpdatedReplicas, d.Status.ReadyReplicas, d.Status.AvailableReplicas = 1, 1, 1, 1
			d.Status.Conditions = []appsv1.DeploymentCondition{
				{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue},
				{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable"},
			}
			objs = append(objs, d)
		}
	}
	f := &fakeEnv{ns: env.Namespace()}
	f.pod = &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: d.Name + "-0", Namespace: f.ns, Labels: d.Spec.Template.Labels},
		Spec:       d.Spec.Template.Spec,
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: svc.Name, Ready: ready}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: metav1.Now()}}},
	}
	f.slice = &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: svc.Name + "-x", Namespace: f.ns, Labels: map[string]string{discoveryv1.LabelServiceName: svc.Name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
	}
	setReady(f.pod, f.slice, ready)
	f.client = fake.NewClientset(append(objs, f.pod, f.slice)...)
	return f
}

func setReady(p *corev1.Pod, s *discoveryv1.EndpointSlice, ready bool) {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	p.Status.Conditions[0].Status = status
	p.Status.Conditions[0].LastTransitionTime = metav1.Now()
	p.Status.ContainerStatuses[0].Ready = ready
	s.Endpoints[0].Conditions.Ready = &ready
}

// set makes the pod and its endpoint ready or not, as the kubelet and the
// EndpointSlice controller would.
func (f *fakeEnv) set(t *testing.T, ready bool) {
	t.Helper()
	setReady(f.pod, f.slice, ready)
	ctx := context.Background()
	if _, err := f.client.CoreV1().Pods(f.ns).UpdateStatus(ctx, f.pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.client.DiscoveryV1().EndpointSlices(f.ns).Update(ctx, f.slice, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func convert(t *testing.T, obj map[string]any, into any) {
	t.Helper()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj, into); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a bytes.Buffer the watch writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startWatch runs `health dev --services watchedService --watch` against
// the fake cluster, writing to out, with the options mutate sets; the
// returned channel yields Run's error when the watch ends.
func startWatch(ctx context.Context, t *testing.T, f *fakeEnv, out, errOut io.Writer, colour string, mutate func(*HealthOptions)) <-chan error {
	t.Helper()
	noConfigHub(t)
	o := &HealthOptions{
		IOStreams: genericiooptions.IOStreams{In: strings.NewReader(""), Out: out, ErrOut: errOut},
		Report:    NewReportFlags(&cli.ColorFlag{Value: colour}),
		Services:  []string{watchedService}, Watch: true, client: f.client,
	}
	mutate(o)
	if err := o.Complete([]string{"dev"}); err != nil {
		t.Fatal(err)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	return done
}

// eventually waits until cond holds, failing with what was last seen.
func eventually(t *testing.T, what string, cond func() bool, seen func() string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never saw %s; last seen:\n%s", what, seen())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func ended(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("the watch did not end")
		return nil
	}
}

// Without a terminal: a timestamped line per change of the verdict; the
// end (Ctrl-C cancels the context) returns the last verdict's exit code.
func TestWatchLines(t *testing.T) {
	f := newFakeEnv(t, true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := startWatch(ctx, t, f, &out, &errOut, "never", func(*HealthOptions) {})
	line := regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ Status: (\S+) — `)
	verdicts := func() []string {
		var v []string
		for _, m := range line.FindAllStringSubmatch(out.String(), -1) {
			v = append(v, m[1])
		}
		return v
	}
	eventually(t, "HEALTHY", func() bool { return slices.Equal(verdicts(), []string{"HEALTHY"}) }, out.String)
	f.set(t, false)
	eventually(t, "UNHEALTHY", func() bool { return slices.Equal(verdicts(), []string{"HEALTHY", "UNHEALTHY"}) }, out.String)
	if !strings.Contains(out.String(), "reference-data endpoints-ready") {
		t.Errorf("the line does not say what failed:\n%s", out.String())
	}
	cancel()
	if err := ended(t, done); cli.CodeOf(err) != cli.ExitFailed {
		t.Errorf("ended with %v (exit %d), want exit 1 for UNHEALTHY", err, cli.CodeOf(err))
	}
	if len(strings.Split(strings.TrimSpace(out.String()), "\n")) != 2 || errOut.String() != "" {
		t.Errorf("want exactly two lines and no stderr; stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
	}
}

// --until healthy ends by itself once HEALTHY, with exit 0; at --timeout
// first it ends with the last verdict's code and says so.
func TestWatchUntilHealthy(t *testing.T) {
	t.Run("mended", func(t *testing.T) {
		f := newFakeEnv(t, false)
		var out, errOut syncBuffer
		done := startWatch(context.Background(), t, f, &out, &errOut, "never", func(o *HealthOptions) { o.Until = untilHealthy })
		eventually(t, "UNHEALTHY", func() bool { return strings.Contains(out.String(), "UNHEALTHY") }, out.String)
		f.set(t, true)
		if err := ended(t, done); err != nil {
			t.Errorf("ended with %v, want exit 0\n%s", err, out.String())
		}
		if !strings.Contains(out.String(), "Status: HEALTHY") {
			t.Errorf("the last line is not HEALTHY:\n%s", out.String())
		}
	})
	t.Run("timeout", func(t *testing.T) {
		f := newFakeEnv(t, false)
		var out, errOut syncBuffer
		done := startWatch(context.Background(), t, f, &out, &errOut, "never", func(o *HealthOptions) {
			o.Until, o.Timeout = untilHealthy, time.Second
		})
		if err := ended(t, done); cli.CodeOf(err) != cli.ExitFailed {
			t.Errorf("ended with %v, want exit 1", err)
		}
		if errOut.String() != "not HEALTHY after 1s\n" {
			t.Errorf("stderr %q", errOut.String())
		}
	})
}

// At a terminal the compact view is drawn, and redrawn in place when the
// cluster changes: the test reads the screen through a terminal emulator.
func TestWatchRedrawsAtATerminal(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	const cols, rows = 100, 30
	if err := pty.Setsize(ptmx, &pty.Winsize{Cols: cols, Rows: rows}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("COLUMNS", "")
	t.Setenv("NO_COLOR", "")
	t.Setenv("TERM", "xterm-256color")
	term := vt10x.New(vt10x.WithSize(cols, rows))
	go func() { _, _ = io.Copy(term, ptmx) }()
	screen := term.String // takes the emulator's lock

	row := func(cells ...string) *regexp.Regexp {
		return regexp.MustCompile(`(?m)^` + strings.Join(cells, `\s+`) + `\s*$`)
	}

	f := newFakeEnv(t, true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var errOut syncBuffer
	done := startWatch(ctx, t, f, tty, &errOut, "auto", func(*HealthOptions) {})

	healthy := row(watchedService, "blue/latest", "1/1", "✓")
	eventually(t, "the healthy row", func() bool {
		return healthy.MatchString(screen()) && strings.Contains(screen(), "Status: HEALTHY")
	}, screen)
	f.set(t, false)
	broken := row(watchedService, "blue/latest", "0/1", "✗ endpoints-ready", `\+1`)
	eventually(t, "the redrawn row", func() bool {
		s := screen()
		return broken.MatchString(s) && strings.Contains(s, "Status: UNHEALTHY")
	}, screen)
	s := screen()
	if healthy.MatchString(s) || strings.Count(s, "Health of dev") != 1 {
		t.Errorf("the view was not redrawn in place:\n%s", s)
	}
	cancel()
	if err := ended(t, done); cli.CodeOf(err) != cli.ExitFailed {
		t.Errorf("ended with %v, want exit 1 for UNHEALTHY", err)
	}
	if errOut.String() != "" {
		t.Errorf("stderr: %s", errOut.String())
	}
}
