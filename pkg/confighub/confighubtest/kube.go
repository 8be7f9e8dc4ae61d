package confighubtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/finos/traderx-plugins/pkg/confighub"
)

// DefaultFieldManager is the server-side-apply field manager of the worker.
const DefaultFieldManager = "confighub-worker"

// KubeApplier server-side-applies a unit's multi-document YAML to a cluster,
// the way ConfigHub's Kubernetes worker does: dynamic client plus a discovery
// RESTMapper, field manager "confighub-worker", conflicts forced. Namespaced
// objects without a namespace go to the target's KubeNamespace parameter, else
// "default". Namespaces and CRDs are applied first. It does not prune objects
// that left the unit. The live state is the applied objects as YAML (without
// managedFields).
type KubeApplier struct {
	// RESTConfig returns the cluster of a target.
	RESTConfig   func(target confighub.Target) (*rest.Config, error)
	FieldManager string
	Logger       *slog.Logger

	mu      sync.Mutex
	clients map[string]*kubeClients
}

type kubeClients struct {
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
}

// NewKubeApplier applies every target's units to the cluster of cfg.
func NewKubeApplier(cfg *rest.Config) *KubeApplier {
	return &KubeApplier{RESTConfig: func(confighub.Target) (*rest.Config, error) { return cfg, nil }}
}

func (k *KubeApplier) clientsFor(target confighub.Target) (*kubeClients, error) {
	if k.RESTConfig == nil {
		return nil, errors.New("KubeApplier has no RESTConfig")
	}
	cfg, err := k.RESTConfig(target)
	if err != nil {
		return nil, fmt.Errorf("cluster for target %s: %w", target.Slug, err)
	}
	key := cfg.Host + "|" + cfg.Username + "|" + string(cfg.CertData) + "|" + cfg.CertFile
	k.mu.Lock()
	defer k.mu.Unlock()
	if c := k.clients[key]; c != nil {
		return c, nil
	}
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
	k.clients[key] = c
	return c, nil
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

// Apply implements Applier.
func (k *KubeApplier) Apply(ctx context.Context, target confighub.Target, unit confighub.Unit, data []byte) ([]byte, error) {
	objs, err := DecodeObjects(data)
	if err != nil {
		return nil, fmt.Errorf("unit %s: %w", unit.Slug, err)
	}
	sort.SliceStable(objs, func(i, j int) bool { return applyRank(objs[i]) < applyRank(objs[j]) })
	cl, err := k.clientsFor(target)
	if err != nil {
		return nil, err
	}
	defaultNS := "default"
	if target.Parameters != "" {
		var p struct{ KubeNamespace string }
		if json.Unmarshal([]byte(target.Parameters), &p) == nil && p.KubeNamespace != "" {
			defaultNS = p.KubeNamespace
		}
	}
	fm := k.FieldManager
	if fm == "" {
		fm = DefaultFieldManager
	}
	log := k.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var live bytes.Buffer
	for i, obj := range objs {
		gvk := obj.GroupVersionKind()
		mapping, err := cl.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if meta.IsNoMatchError(err) {
			cl.mapper.Reset() // a CRD applied earlier in this unit
			mapping, err = cl.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		}
		if err != nil {
			return nil, fmt.Errorf("unit %s: %s %s: %w", unit.Slug, gvk.Kind, obj.GetName(), err)
		}
		var ri dynamic.ResourceInterface
		if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
			if obj.GetNamespace() == "" {
				obj.SetNamespace(defaultNS)
			}
			ri = cl.dyn.Resource(mapping.Resource).Namespace(obj.GetNamespace())
		} else {
			obj.SetNamespace("")
			ri = cl.dyn.Resource(mapping.Resource)
		}
		res, err := ri.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: fm, Force: true})
		if err != nil {
			return nil, fmt.Errorf("unit %s: apply %s %s: %w", unit.Slug, gvk.Kind, namespacedName(obj), err)
		}
		log.Debug("confighubtest: applied", "unit", unit.Slug, "kind", gvk.Kind, "name", namespacedName(obj))
		res.SetManagedFields(nil)
		y, err := yaml.Marshal(res.Object)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			live.WriteString("---\n")
		}
		live.Write(y)
	}
	return live.Bytes(), nil
}

func namespacedName(u *unstructured.Unstructured) string {
	if u.GetNamespace() == "" {
		return u.GetName()
	}
	return u.GetNamespace() + "/" + u.GetName()
}
