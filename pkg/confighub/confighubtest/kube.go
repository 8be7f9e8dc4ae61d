package confighubtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	watchtools "k8s.io/client-go/tools/watch"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/yaml"

	"github.com/finos/traderx-plugins/pkg/confighub"
)

// DefaultFieldManager is the server-side-apply field manager of ConfigHub's
// Kubernetes worker: ssa.Owner{Field: "confighub"} in the SDK's
// bridge-worker/impl/kubernetes_lib.go (Aug 2025; the same in the newer
// k8s_flux_ssa_applier_impl.go). Newer workers default to a cli-utils applier
// whose field manager is "confighub-bridge-worker" (k8s_cliutils_applier.go).
const DefaultFieldManager = "confighub"

// defaultNamespace is where the worker puts namespaced objects that name no
// namespace; the SDK notes it "is currently not configurable", and the worker
// reads no namespace parameter from the target.
const defaultNamespace = "default"

// ErrLiveObjectMissing is a refresh finding an object of the unit absent from
// the cluster. The SDK's worker (every version read, Aug 2025 to the newest
// cli-utils applier, whose Refresh carries a TODO to change it) fails the
// refresh then (RefreshFailed) instead of reporting drift, and so does
// KubeBackend.
var ErrLiveObjectMissing = errors.New("live object not found")

// RESTConfigFunc returns the cluster a target's KubeContext names; "" is the
// current context (or the in-cluster config).
type RESTConfigFunc func(kubeContext string) (*rest.Config, error)

// KubeconfigContexts resolves kube contexts against a kubeconfig file, the way
// the SDK's worker does (controller-runtime's GetConfigWithContext): path ""
// uses the default loading rules ($KUBECONFIG, ~/.kube/config), and without any
// kubeconfig the in-cluster config.
func KubeconfigContexts(path string) RESTConfigFunc {
	return func(kubeContext string) (*rest.Config, error) {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		rules.ExplicitPath = path
		cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules,
			&clientcmd.ConfigOverrides{CurrentContext: kubeContext}).ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("kube context %q: %w", kubeContext, err)
		}
		return cfg, nil
	}
}

// workerRateLimits gives a config without client-side rate limits the ones
// the SDK's worker runs with: it builds its config with controller-runtime's
// GetConfigWithContext (bridge-worker/impl/kubernetes_lib.go), which sets
// 20 requests a second, bursts of 30, where client-go alone would allow 5
// and 10. A refresh of a whole environment is paced by this.
func workerRateLimits(cfg *rest.Config) *rest.Config {
	if cfg.QPS != 0 {
		return cfg
	}
	c := rest.CopyConfig(cfg)
	c.QPS, c.Burst = 20, 30
	return c
}

// SingleCluster sends every kube context to cfg: a stand-in whose targets all
// mean the one test cluster.
func SingleCluster(cfg *rest.Config) RESTConfigFunc {
	return func(string) (*rest.Config, error) { return cfg, nil }
}

// KubeBackend is the Backend of ConfigHub's Kubernetes worker: server-side
// apply with a dynamic client and a discovery RESTMapper, a kstatus readiness
// wait driven by watches, and a refresh that compares the live objects with
// the fields the unit sets. It does not prune objects that left the unit.
type KubeBackend struct {
	restConfig RESTConfigFunc
	// FieldManager defaults to DefaultFieldManager.
	FieldManager string
	// Logger receives one debug line per object applied; silent when nil.
	Logger *slog.Logger

	mu      sync.Mutex
	clients map[string]*kubeClients
}

var _ Backend = (*KubeBackend)(nil)

type kubeClients struct {
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
}

// NewKubeBackend returns a backend reaching a target's cluster through
// restConfig (KubeconfigContexts or SingleCluster).
func NewKubeBackend(restConfig RESTConfigFunc) *KubeBackend {
	return &KubeBackend{restConfig: restConfig}
}

func (k *KubeBackend) clientsFor(kubeContext string) (*kubeClients, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if c := k.clients[kubeContext]; c != nil {
		return c, nil
	}
	if k.restConfig == nil {
		return nil, errors.New("KubeBackend has no RESTConfigFunc: construct it with NewKubeBackend")
	}
	cfg, err := k.restConfig(kubeContext)
	if err != nil {
		return nil, err
	}
	cfg = workerRateLimits(cfg)
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	c := &kubeClients{dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))}
	if k.clients == nil {
		k.clients = map[string]*kubeClients{}
	}
	k.clients[kubeContext] = c
	return c, nil
}

func (k *KubeBackend) log() *slog.Logger {
	if k.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return k.Logger
}

// DecodeObjects splits multi-document YAML (or JSON) into objects, skipping
// empty documents.
func DecodeObjects(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for i := 0; ; i++ {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetKind() == "" || u.GetAPIVersion() == "" || u.GetName() == "" {
			return nil, fmt.Errorf("document %d: apiVersion, kind and metadata.name are required", i)
		}
		out = append(out, u)
	}
}

func applyRank(u *unstructured.Unstructured) int {
	switch u.GroupVersionKind().GroupKind().String() {
	case "Namespace":
		return 0
	case "CustomResourceDefinition.apiextensions.k8s.io":
		return 1
	}
	return 2
}

// ResourceKey names an object in a UnitEvent's ResourceStatuses the way the
// SDK's worker does (k8s_cliutils_applier.go): "<apiVersion>/<kind>#<namespace>/<name>",
// e.g. "apps/v1/Deployment#traderx/web-gui"; cluster-scoped objects have an
// empty namespace ("v1/Namespace#/traderx").
func ResourceKey(u *unstructured.Unstructured) string {
	return u.GetAPIVersion() + "/" + u.GetKind() + "#" + u.GetNamespace() + "/" + u.GetName()
}

// liveObject is an object of a unit with the client of its resource.
type liveObject struct {
	obj *unstructured.Unstructured
	ri  dynamic.ResourceInterface
	// declaredNamespace is false when the unit left the namespace to the worker.
	declaredNamespace bool
}

// resolve decodes data and maps every object to its resource on the target's
// cluster, putting namespaced objects without a namespace in "default".
func (k *KubeBackend) resolve(t TargetParams, data []byte) ([]liveObject, error) {
	objs, err := DecodeObjects(data)
	if err != nil {
		return nil, err
	}
	cl, err := k.clientsFor(t.KubeContext)
	if err != nil {
		return nil, err
	}
	out := make([]liveObject, 0, len(objs))
	for _, obj := range objs {
		gvk := obj.GroupVersionKind()
		mapping, err := cl.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if meta.IsNoMatchError(err) {
			cl.mapper.Reset() // a CRD applied since discovery was cached
			mapping, err = cl.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		}
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", gvk.Kind, obj.GetName(), err)
		}
		lo := liveObject{obj: obj, declaredNamespace: obj.GetNamespace() != ""}
		if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
			if obj.GetNamespace() == "" {
				obj.SetNamespace(defaultNamespace)
			}
			lo.ri = cl.dyn.Resource(mapping.Resource).Namespace(obj.GetNamespace())
		} else {
			obj.SetNamespace("")
			lo.ri = cl.dyn.Resource(mapping.Resource)
		}
		out = append(out, lo)
	}
	return out, nil
}

// Apply implements Backend. Namespaces and CRDs go first, as the SDK's staged
// apply does. The live state is what the API server returned for each object
// (for a dry run, what it would have stored), without managedFields.
func (k *KubeBackend) Apply(ctx context.Context, t TargetParams, data []byte, dryRun bool) ([]byte, error) {
	objs, err := k.resolve(t, data)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(objs, func(i, j int) bool { return applyRank(objs[i].obj) < applyRank(objs[j].obj) })
	fm := k.FieldManager
	if fm == "" {
		fm = DefaultFieldManager
	}
	opts := metav1.ApplyOptions{FieldManager: fm, Force: true}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	live := make([]map[string]any, 0, len(objs))
	for _, o := range objs {
		res, err := o.ri.Apply(ctx, o.obj.GetName(), o.obj, opts)
		if err != nil {
			return nil, fmt.Errorf("apply %s %s: %w", o.obj.GetKind(), namespacedName(o.obj), err)
		}
		k.log().Debug("confighubtest: applied", "kind", o.obj.GetKind(), "name", namespacedName(o.obj), "dryRun", dryRun)
		res.SetManagedFields(nil)
		live = append(live, res.Object)
	}
	return encodeYAML(live)
}

// WaitReady implements Backend: one watch per object (client-go's
// UntilWithSync) and kstatus's status.Compute on every version seen, until
// every object is Current. These are the statuses the SDK's worker waits for
// (it polls them every 2 s with cli-utils' status poller); status.Compute is
// what that poller's readers compute for the object itself, so a Deployment is
// Current only once its rollout is complete and available, and crash-looping
// pods keep it InProgress. Watching instead of polling ends the wait as soon
// as the last object becomes ready.
func (k *KubeBackend) WaitReady(ctx context.Context, t TargetParams, data []byte) (map[string]confighub.ResourceStatus, error) {
	objs, err := k.resolve(t, data)
	if err != nil {
		return nil, err
	}
	timeout := t.WaitTimeout
	if timeout <= 0 {
		timeout = DefaultWaitTimeout
	}
	waitCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var mu sync.Mutex
	latest := make([]confighub.ResourceStatus, len(objs))
	var watchErr error // the first watch failing for another reason than the wait ending
	var wg sync.WaitGroup
	for i, o := range objs {
		latest[i] = confighub.ResourceStatus{Readiness: readinessUnknown, SyncStatus: "Synced", Message: "not observed on the cluster", UpdatedAt: time.Now()}
		wg.Go(func() {
			err := watchUntilCurrent(waitCtx, o.ri, o.obj.GetName(), func(st confighub.ResourceStatus) {
				mu.Lock()
				latest[i] = st
				mu.Unlock()
			})
			if err != nil && waitCtx.Err() == nil {
				mu.Lock()
				if watchErr == nil {
					watchErr = fmt.Errorf("watching %s %s: %w", o.obj.GetKind(), namespacedName(o.obj), err)
				}
				mu.Unlock()
				cancel() // the wait cannot succeed any more
			}
		})
	}
	wg.Wait()

	statuses := make(map[string]confighub.ResourceStatus, len(objs))
	var notReady []string
	for i, o := range objs {
		key := ResourceKey(o.obj)
		statuses[key] = latest[i]
		if latest[i].Readiness != readinessReady {
			notReady = append(notReady, fmt.Sprintf("%s %s: %s", key, latest[i].Readiness, latest[i].Message))
		}
	}
	switch {
	case len(notReady) == 0:
		return statuses, nil
	case watchErr != nil:
		return statuses, watchErr
	case ctx.Err() != nil:
		return statuses, ctx.Err()
	}
	return statuses, fmt.Errorf("%w after %s: %s", ErrWaitTimeout, timeout, strings.Join(notReady, "; "))
}

// watchUntilCurrent watches one object by name, reporting its kstatus after
// every change, until it is Current or ctx ends.
func watchUntilCurrent(ctx context.Context, ri dynamic.ResourceInterface, name string, report func(confighub.ResourceStatus)) error {
	sel := fields.OneTermEqualSelector("metadata.name", name).String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			opts.FieldSelector = sel
			return ri.List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.FieldSelector = sel
			return ri.Watch(ctx, opts)
		},
	}
	_, err := watchtools.UntilWithSync(ctx, lw, &unstructured.Unstructured{}, nil, func(ev watch.Event) (bool, error) {
		now := time.Now()
		switch ev.Type {
		case watch.Deleted:
			report(confighub.ResourceStatus{Readiness: readinessUnknown, SyncStatus: "Synced", Message: "deleted", UpdatedAt: now})
		case watch.Added, watch.Modified:
			u, ok := ev.Object.(*unstructured.Unstructured)
			if !ok {
				return false, nil
			}
			res, err := status.Compute(u)
			if err != nil {
				report(confighub.ResourceStatus{Readiness: readinessUnknown, SyncStatus: "Synced", Message: err.Error(), UpdatedAt: now})
				return false, nil
			}
			report(resourceStatus(res, now))
			return res.Status == status.CurrentStatus, nil
		}
		return false, nil
	})
	return err
}

// ResourceStatus.Readiness values.
const (
	readinessReady      = "Ready"
	readinessInProgress = "InProgress"
	readinessFailed     = "Failed"
	readinessUnknown    = "Unknown"
)

// resourceStatus maps a kstatus result to a ResourceStatus as the SDK's
// worker does: Current is Ready, InProgress and Failed keep their names, and
// anything else (Terminating, Unknown) is Unknown with kstatus's status in the
// message.
func resourceStatus(res *status.Result, now time.Time) confighub.ResourceStatus {
	out := confighub.ResourceStatus{SyncStatus: "Synced", UpdatedAt: now, Message: res.Message}
	switch res.Status {
	case status.CurrentStatus:
		out.Readiness = readinessReady
	case status.InProgressStatus:
		out.Readiness = readinessInProgress
	case status.FailedStatus:
		out.Readiness = readinessFailed
	default:
		out.Readiness = readinessUnknown
		out.Message = strings.TrimSuffix("kstatus "+res.Status.String()+": "+res.Message, ": ")
	}
	return out
}

// Refresh implements Backend. It reads each object of data and compares it
// with the fields data sets (see adopt); server defaults, status and other
// fields data does not set never count as drift. An object absent from the
// cluster fails the refresh with ErrLiveObjectMissing, as the SDK's worker
// does. Without drift merged is data itself; with drift it is data re-encoded
// with the live values adopted (comments in data are lost).
func (k *KubeBackend) Refresh(ctx context.Context, t TargetParams, data []byte) (merged, liveState []byte, drifted bool, err error) {
	objs, err := k.resolve(t, data)
	if err != nil {
		return nil, nil, false, err
	}
	var missing []string
	live := make([]map[string]any, 0, len(objs))
	mergedObjs := make([]map[string]any, 0, len(objs))
	for _, o := range objs {
		cur, err := o.ri.Get(ctx, o.obj.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			missing = append(missing, o.obj.GetKind()+" "+namespacedName(o.obj))
			continue
		}
		if err != nil {
			return nil, nil, false, fmt.Errorf("read %s %s: %w", o.obj.GetKind(), namespacedName(o.obj), err)
		}
		cur.SetManagedFields(nil)
		live = append(live, cur.Object)
		m, differs := adopt(normalizeDesired(o.obj).Object, cur.Object, nil)
		drifted = drifted || differs
		mo := &unstructured.Unstructured{Object: m.(map[string]any)}
		if !o.declaredNamespace {
			mo.SetNamespace("")
		}
		mergedObjs = append(mergedObjs, mo.Object)
	}
	if len(missing) > 0 {
		return nil, nil, false, fmt.Errorf("%w: %s", ErrLiveObjectMissing, strings.Join(missing, ", "))
	}
	if liveState, err = encodeYAML(live); err != nil {
		return nil, nil, false, err
	}
	if !drifted {
		return data, liveState, false, nil
	}
	if merged, err = encodeYAML(mergedObjs); err != nil {
		return nil, nil, false, err
	}
	return merged, liveState, true, nil
}

func encodeYAML(objs []map[string]any) ([]byte, error) {
	var buf bytes.Buffer
	for i, o := range objs {
		y, err := yaml.Marshal(o)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(y)
	}
	return buf.Bytes(), nil
}

func namespacedName(u *unstructured.Unstructured) string {
	if u.GetNamespace() == "" {
		return u.GetName()
	}
	return u.GetNamespace() + "/" + u.GetName()
}
