package manifests

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/finos/traderx-plugins/pkg/traderx"
)

// RBAC names. Subjects are groups so an organisation maps its own users and
// service accounts onto them without editing the roles.
const (
	ViewerRole    = "traderx-viewer"
	ViewersGroup  = "traderx-viewers"
	WorkerRole    = "traderx-confighub-worker"
	WorkersGroup  = "traderx-confighub-workers"
	rbacAPIGroup  = "rbac.authorization.k8s.io"
	rbacAPIVerson = rbacAPIGroup + "/v1"
)

// viewerRules are exactly what `kubectl traderx health` and `validate` read:
// a GET of their namespace and one LIST per kind (then a WATCH of it for
// health --watch), plus the service proxy for --probe. Nothing else, and no
// write verb.
func viewerRules() []any {
	return []any{
		rule("", []string{"namespaces"}, "get"),
		rule("", []string{"pods", "services"}, "list", "watch"),
		rule("", []string{"services/proxy"}, "get"),
		rule("apps", []string{"deployments", "replicasets"}, "list", "watch"),
		rule("discovery.k8s.io", []string{"endpointslices"}, "list", "watch"),
		rule("networking.k8s.io", []string{"ingresses", "networkpolicies"}, "list", "watch"),
		rule("policy", []string{"poddisruptionbudgets"}, "list", "watch"),
		// validate asks for the metadata of the model's Secrets only. RBAC
		// cannot grant metadata without values, so the grant is limited to
		// those names; the tool never requests the values.
		namedRule("", "secrets", traderx.RequiredSecrets(), "get"),
	}
}

func namedRule(group, resource string, names []string, verbs ...string) any {
	r := rule(group, []string{resource}, verbs...).(map[string]any)
	r["resourceNames"] = toAny(names)
	return r
}

// workerRules cover the kinds TraderX units contain, for server-side apply by
// the ConfigHub worker, inside the environment's namespace only.
func workerRules() []any {
	verbs := []string{"get", "list", "watch", "create", "patch", "update", "delete"}
	return []any{
		rule("", []string{"serviceaccounts", "services"}, verbs...),
		rule("apps", []string{"deployments"}, verbs...),
		rule("networking.k8s.io", []string{"ingresses", "networkpolicies"}, verbs...),
		rule("policy", []string{"poddisruptionbudgets"}, verbs...),
	}
}

func rule(group string, resources []string, verbs ...string) any {
	return map[string]any{"apiGroups": []any{group}, "resources": toAny(resources), "verbs": toAny(verbs)}
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// RBAC renders the roles of an environment: the read-only viewer role that
// health and validate need, and the ConfigHub worker's role, each bound in the
// environment's namespace only. Creating the namespace itself is the one
// cluster-scoped right the worker needs, in its own ClusterRole.
func RBAC(env traderx.Environment) []*unstructured.Unstructured {
	ns := env.Namespace()
	labels := map[string]any{LabelPartOf: PartOf, LabelName: "rbac", LabelEnvironment: env.Name}
	obj := func(kind, name, namespace string, body map[string]any) *unstructured.Unstructured {
		meta := map[string]any{"name": name, "labels": labels}
		if namespace != "" {
			meta["namespace"] = namespace
		}
		o := map[string]any{"apiVersion": rbacAPIVerson, "kind": kind, "metadata": meta}
		for k, v := range body {
			o[k] = v
		}
		return &unstructured.Unstructured{Object: o}
	}
	binding := func(name, role, roleKind, group string) *unstructured.Unstructured {
		return obj("RoleBinding", name, ns, map[string]any{
			"roleRef":  map[string]any{"apiGroup": rbacAPIGroup, "kind": roleKind, "name": role},
			"subjects": []any{map[string]any{"apiGroup": rbacAPIGroup, "kind": "Group", "name": group}},
		})
	}
	return []*unstructured.Unstructured{
		obj("ClusterRole", ViewerRole, "", map[string]any{"rules": viewerRules()}),
		binding(ViewerRole, ViewerRole, "ClusterRole", ViewersGroup),
		obj("ClusterRole", WorkerRole+"-namespaces", "", map[string]any{"rules": []any{rule("", []string{"namespaces"}, "get", "create", "patch")}}),
		obj("ClusterRoleBinding", WorkerRole+"-namespaces-"+env.Name, "", map[string]any{
			"roleRef":  map[string]any{"apiGroup": rbacAPIGroup, "kind": "ClusterRole", "name": WorkerRole + "-namespaces"},
			"subjects": []any{map[string]any{"apiGroup": rbacAPIGroup, "kind": "Group", "name": WorkersGroup}},
		}),
		obj("Role", WorkerRole, ns, map[string]any{"rules": workerRules()}),
		binding(WorkerRole, WorkerRole, "Role", WorkersGroup),
	}
}
