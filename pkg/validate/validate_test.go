package validate

import (
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// A clean rendered environment passes every offline validation: no FAIL, no
// WARN but the documented singleton WARNs of a protected environment, and
// SKIPs only where live state or ConfigHub is needed.
func TestRenderedEnvironmentsPass(t *testing.T) {
	liveOnly := map[string]bool{
		SuiteConfigHubSpace + "/space-exists": true, SuiteConfigHubUnits + "/unit-exists": true,
		SuiteConfigHubSync + "/live-synced": true, SuiteNamespace + "/active": true,
		SuiteReplicas + "/running-replicas": true, SuiteEndpoints + "/ready-endpoints": true,
		SuitePods + "/no-crash-loop": true, SuitePods + "/no-failed-pods": true,
		SuiteSecrets + "/secret-exists": true,
	}
	for _, name := range traderx.EnvironmentNames() {
		t.Run(name, func(t *testing.T) {
			env, objs := rendered(t, name)
			r := runOffline(t, env, objs)
			warned := map[string]bool{}
			for _, c := range r.Checks {
				key := c.Suite + "/" + c.Name
				switch c.Status {
				case check.StatusPass:
				case check.StatusSkip:
					if !liveOnly[key] && !(key == SuiteAvailability+"/protected" && !env.Protected) {
						t.Errorf("unexpected SKIP %s %s: %s", key, c.Target, c.Message)
					}
				case check.StatusWarn:
					if key != SuiteAvailability+"/singleton" || !expectedWarnings(env)[c.Target] {
						t.Errorf("unexpected WARN %s %s: %s", key, c.Target, c.Message)
					}
					warned[c.Target] = true
				default:
					t.Errorf("FAIL %s %s: %s", key, c.Target, c.Message)
				}
			}
			if len(warned) != len(expectedWarnings(env)) {
				t.Errorf("warnings on %v, want %v", warned, expectedWarnings(env))
			}
			var suites []string
			for _, c := range r.Checks {
				if !slices.Contains(suites, c.Suite) {
					suites = append(suites, c.Suite)
				}
			}
			if !slices.Equal(suites, Suites()) {
				t.Errorf("suites in the report %v, want every suite in order %v", suites, Suites())
			}
			if r.ExitCode(check.FailOnFail) != check.ExitOK {
				t.Errorf("exit code %d:\n%s", r.ExitCode(check.FailOnFail), bad(r))
			}
		})
	}
}

// mutation changes one thing of a rendered environment and names the
// validation that must catch it.
type mutation struct {
	name   string
	env    string
	mutate func(t *testing.T, objs []*unstructured.Unstructured) []*unstructured.Unstructured
	suite  string
	check  string
	target string
	status check.Status // FAIL unless set
	msg    string       // a substring of the message
}

// edit wraps an in-place mutation.
func edit(f func(t *testing.T, objs []*unstructured.Unstructured)) func(*testing.T, []*unstructured.Unstructured) []*unstructured.Unstructured {
	return func(t *testing.T, objs []*unstructured.Unstructured) []*unstructured.Unstructured {
		f(t, objs)
		return objs
	}
}

func drop(kind, name string) func(*testing.T, []*unstructured.Unstructured) []*unstructured.Unstructured {
	return func(t *testing.T, objs []*unstructured.Unstructured) []*unstructured.Unstructured {
		return without(t, objs, kind, name)
	}
}

func envVar(deployment, name string, value any) func(*testing.T, []*unstructured.Unstructured) []*unstructured.Unstructured {
	return edit(func(t *testing.T, objs []*unstructured.Unstructured) { setEnv(t, objs, deployment, name, value) })
}

func labelsOf(t *testing.T, objs []*unstructured.Unstructured, kind, name string) map[string]any {
	return m(t, obj(t, objs, kind, name).Object, "metadata", "labels")
}

func policy(name string, selector map[string]any, ingress []any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
		"metadata": map[string]any{"name": name, "namespace": "traderx-dev", "labels": map[string]any{
			manifests.LabelApp: "network-policies", manifests.LabelName: "network-policies", manifests.LabelPartOf: "traderx",
			manifests.LabelVersion: "latest", manifests.LabelTier: "1"}},
		"spec": map[string]any{"podSelector": selector, "policyTypes": []any{"Ingress"}, "ingress": ingress},
	}}
}

func mutations() []mutation {
	const (
		ns   = SuiteNamespace
		rep  = SuiteReplicas
		dep  = SuiteDependencies
		ep   = SuiteEndpoints
		ing  = SuiteIngress
		res  = SuiteResources
		prb  = SuiteProbes
		lab  = SuiteLabels
		np   = SuiteNetworkPolicy
		sec  = SuiteSecurity
		avl  = SuiteAvailability
		dev  = "dev"
		prod = "prod"
	)
	return []mutation{
		// 16-secrets
		{"password as a literal value", dev, envVar("account-service", "DATABASE_DBPASS", "sa"), SuiteSecrets, "secret-references", "deployment/account-service", "", "DATABASE_DBPASS is a literal value, not a Secret reference"},
		{"credential reference to the wrong Secret", dev, envVar("database", "DATABASE_DBUSER", map[string]any{"secretKeyRef": map[string]any{"name": "other", "key": "user"}}),
			SuiteSecrets, "secret-references", "deployment/database", "", "DATABASE_DBUSER reads other/user, want traderx-database/username"},
		{"credential reference removed", dev, envVar("position-service-blue", "DATABASE_DBPASS", nil), SuiteSecrets, "secret-references", "deployment/position-service-blue", "", "DATABASE_DBPASS missing"},
		{"token as a literal value", dev, envVar("trade-feed", "FEED_API_TOKEN", "abc"), SuiteSecrets, "no-literal-credentials", "deployment/trade-feed", "", "credential read from a literal env value: FEED_API_TOKEN"},

		// 03-namespace
		{"namespace missing", dev, drop("Namespace", "traderx-dev"), ns, "exists", "namespace/traderx-dev", "", "the input has no Namespace traderx-dev"},
		{"manifests of another environment", dev, func(t *testing.T, _ []*unstructured.Unstructured) []*unstructured.Unstructured {
			_, objs := rendered(t, "staging")
			return objs
		}, ns, "exists", "namespace/traderx-dev", "", "the input defines namespace traderx-staging, not traderx-dev"},
		{"object in another namespace", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			obj(t, objs, "Deployment", "trade-feed").SetNamespace("traderx-staging")
		}), ns, "objects-in-namespace", "namespace/traderx-dev", "", "deployment/trade-feed in traderx-staging"},

		// 04-replicas
		{"replicas differ from the environment", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			m(t, obj(t, objs, "Deployment", "trade-feed").Object, "spec")["replicas"] = int64(3)
		}), rep, "desired-replicas", "deployment/trade-feed", "", "spec.replicas 3, the dev environment runs 1"},
		{"deployment missing", dev, drop("Deployment", "people-service"), rep, "desired-replicas", "deployment/people-service", "", "Deployment people-service not found"},
		{"two databases", prod, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			m(t, obj(t, objs, "Deployment", "database").Object, "spec")["replicas"] = int64(2)
		}), rep, "desired-replicas", "deployment/database", "", "spec.replicas 2, the prod environment runs 1: the H2 database keeps its data inside the pod"},
		{"singleton rolls", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			m(t, obj(t, objs, "Deployment", "trade-processor").Object, "spec")["strategy"] = map[string]any{"type": "RollingUpdate"}
		}), rep, "strategy", "deployment/trade-processor", "", "strategy RollingUpdate runs a second pod during updates"},
		{"service selects no colour", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			delete(m(t, obj(t, objs, "Service", "reference-data").Object, "spec", "selector"), manifests.LabelColour)
		}), rep, "active-colour", "service/reference-data", "", "Service selects no colour"},
		{"service selects an unknown colour", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			m(t, obj(t, objs, "Service", "reference-data").Object, "spec", "selector")[manifests.LabelColour] = "purple"
		}), rep, "active-colour", "service/reference-data", "", `selects colour "purple"`},
		{"switched to a colour that runs nothing", prod, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			m(t, obj(t, objs, "Service", "trade-service").Object, "spec", "selector")[manifests.LabelColour] = traderx.Green
		}), rep, "desired-replicas", "deployment/trade-service-green", "", "spec.replicas 0, the prod environment runs 3"},

		// 05-dependencies
		{"people host missing", dev, envVar("account-service", "PEOPLE_SERVICE_HOST", nil), dep, "PEOPLE_SERVICE_HOST", "deployment/account-service", "", "PEOPLE_SERVICE_HOST is not set: account-service calls people-service on localhost"},
		{"host names no service", dev, envVar("account-service", "PEOPLE_SERVICE_HOST", "people"), dep, "PEOPLE_SERVICE_HOST", "deployment/account-service", "", "PEOPLE_SERVICE_HOST=people names no Service"},
		{"host names the wrong service", dev, envVar("account-service", "PEOPLE_SERVICE_HOST", "account-service"), dep, "PEOPLE_SERVICE_HOST", "deployment/account-service", "", "points at Service account-service; account-service needs people-service"},
		{"host in another namespace", dev, envVar("account-service", "PEOPLE_SERVICE_HOST", "people-service.traderx-prod"), dep, "PEOPLE_SERVICE_HOST", "deployment/account-service", "", "points into namespace traderx-prod"},
		{"host carries a port", dev, envVar("account-service", "PEOPLE_SERVICE_HOST", "people-service:18089"), dep, "PEOPLE_SERVICE_HOST", "deployment/account-service", "", "carries a port"},
		{"database on localhost", dev, envVar("trade-processor", "DATABASE_TCP_HOST", "localhost"), dep, "DATABASE_TCP_HOST", "deployment/trade-processor", "", "DATABASE_TCP_HOST=localhost names no Service"},
		{"fully qualified host", dev, envVar("account-service", "PEOPLE_SERVICE_HOST", "people-service.traderx-dev.svc.cluster.local"), dep, "PEOPLE_SERVICE_HOST", "deployment/account-service", check.StatusPass, "Service people-service:18089"},
		{"wrong database port", dev, envVar("position-service-blue", "DATABASE_TCP_PORT", "5432"), dep, "DATABASE_TCP_PORT", "deployment/position-service-blue", "", "DATABASE_TCP_PORT=5432, but database listens on 18082"},
		{"service on the wrong port", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			m(t, obj(t, objs, "Service", "people-service").Object, "spec", "ports", 0)["port"] = int64(8080)
		}), dep, "PEOPLE_SERVICE_HOST", "deployment/account-service", "", "Service people-service does not listen on 18089"},
		{"target service missing", dev, drop("Service", "database"), dep, "DATABASE_TCP_PORT", "deployment/trade-processor", "", "Service database does not exist"},
		{"wire from a reference", dev, envVar("trade-processor", "TRADE_FEED_HOST", map[string]any{"configMapKeyRef": map[string]any{"name": "x", "key": "y"}}), dep, "TRADE_FEED_HOST", "deployment/trade-processor", check.StatusWarn, "valueFrom"},
		{"unknown URL names no service", dev, envVar("trade-processor", "TRADE_SERVICE_URL", "http://trade-svc:8080"), dep, "TRADE_SERVICE_URL", "deployment/trade-processor", "", "TRADE_SERVICE_URL=http://trade-svc:8080 names no Service in traderx-dev"},
		{"unknown URL on the wrong port", dev, envVar("account-service", "REFERENCE_DATA_URL", "http://reference-data:8080"), dep, "REFERENCE_DATA_URL", "deployment/account-service", "", "Service reference-data does not listen on 8080"},
		{"unknown URL names a service", dev, envVar("account-service", "REFERENCE_DATA_URL", "http://reference-data:18085"), dep, "REFERENCE_DATA_URL", "deployment/account-service", check.StatusPass, "names Service reference-data"},

		// 06-endpoints
		{"service missing", dev, drop("Service", "trade-feed"), ep, "exists", "service/trade-feed", "", "Service trade-feed not found"},
		{"selector matches nothing", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			m(t, obj(t, objs, "Service", "account-service").Object, "spec")["selector"] = map[string]any{"app": "account"}
		}), ep, "selector", "service/account-service", "", "selector app=account matches no pod template of account-service"},
		{"selector matches other services", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			m(t, obj(t, objs, "Service", "people-service").Object, "spec")["selector"] = map[string]any{manifests.LabelPartOf: "traderx"}
		}), ep, "selector", "service/people-service", "", "also selects pods of database"},
		{"no selector", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			delete(m(t, obj(t, objs, "Service", "trade-feed").Object, "spec"), "selector")
		}), ep, "selector", "service/trade-feed", "", "has no selector"},
		{"target port not exposed", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			m(t, obj(t, objs, "Service", "account-service").Object, "spec", "ports", 0)["targetPort"] = int64(8080)
		}), ep, "target-ports", "service/account-service", "", "port 18088 forwards to 8080, which account-service does not expose"},
		{"container port changed", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			m(t, container(t, objs, "trade-feed"), "ports", 0)["containerPort"] = int64(3000)
		}), ep, "target-ports", "service/trade-feed", "", "port 18086 forwards to 18086, which trade-feed does not expose"},

		// 07-ingress
		{"no socket.io route", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			dropIngressPath(t, objs, manifests.WebIngressName, "/socket.io/")
		}), ing, "route", "/socket.io/", "", "the live trade and position blotter never updates"},
		{"socket.io to the wrong port", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			m(t, pathOf(t, objs, manifests.WebIngressName, "/socket.io/"), "backend", "service", "port")["number"] = int64(18088)
		}), ing, "route", "/socket.io/", "", "routes to port 18088, trade-feed listens on 18086"},
		{"api prefix not stripped", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			pathOf(t, objs, manifests.APIIngressName, "/account-service(/|$)(.*)")["path"] = "/account-service"
		}), ing, "route", "/account-service", "", "Ingress traderx-api does not strip /account-service"},
		{"front end path rewritten", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			m(t, obj(t, objs, "Ingress", manifests.WebIngressName).Object, "metadata", "annotations")[annotationRewrite] = "/"
		}), ing, "route", "/", "", "Ingress traderx-web rewrites paths"},
		{"api on another host", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			m(t, obj(t, objs, "Ingress", manifests.APIIngressName).Object, "spec", "rules", 0)["host"] = "api.example.com"
		}), ing, "route", "/trade-service", "", `served on host "api.example.com", but the front end calls "traderx-dev.local"`},
		{"route to the wrong service", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			m(t, pathOf(t, objs, manifests.APIIngressName, "/people-service(/|$)(.*)"), "backend", "service")["name"] = "account-service"
		}), ing, "route", "/people-service", "", "routes to account-service, want people-service"},
		{"backend service missing", dev, drop("Service", "web-front-end-angular"), ing, "route", "/", "", "backend Service web-front-end-angular does not exist"},
		{"no catch-all route", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			dropIngressPath(t, objs, manifests.WebIngressName, "/")
		}), ing, "route", "/", "", "no Ingress routes /: the front end itself is not served"},

		// 08-resources
		{"no requests", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			delete(m(t, container(t, objs, "trade-service-blue"), "resources"), "requests")
		}), res, "requests", "deployment/trade-service-blue", "", "no request for cpu, memory"},
		{"no limits", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			delete(m(t, container(t, objs, "trade-service-blue"), "resources"), "limits")
		}), res, "limits", "deployment/trade-service-blue", "", "no limit for cpu, memory"},
		{"request above limit", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			m(t, container(t, objs, "people-service"), "resources", "requests")["cpu"] = "2"
		}), res, "requests-within-limits", "deployment/people-service", "", "cpu request 2 > limit 500m"},
		{"limit beyond the environment's bounds", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			m(t, container(t, objs, "web-front-end-angular"), "resources", "limits")["memory"] = "2Gi"
		}), res, "limits-within-bounds", "deployment/web-front-end-angular", "", "memory limit 2Gi > 1536Mi"},

		// 10-probes
		{"no readiness probe", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			delete(container(t, objs, "trade-feed"), "readinessProbe")
		}), prb, "readiness", "deployment/trade-feed", "", "no readiness probe"},
		{"position-service liveness on readiness", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			m(t, container(t, objs, "position-service-blue"), "livenessProbe", "httpGet")["path"] = "/health/ready"
		}), prb, "liveness", "deployment/position-service-blue", "", "liveness uses /health/ready, the readiness endpoint"},
		{"liveness of the wrong kind", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			p := m(t, container(t, objs, "database"), "livenessProbe")
			delete(p, "tcpSocket")
			p["httpGet"] = map[string]any{"path": "/", "port": int64(18084)}
		}), prb, "liveness", "deployment/database", "", "liveness probe is HTTP GET / on 18084, want TCP 18082"},
		{"no startup probe", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			delete(container(t, objs, "web-front-end-angular"), "startupProbe")
		}), prb, "startup", "deployment/web-front-end-angular", "", "no startup probe"},
		{"readiness on the wrong port", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			m(t, container(t, objs, "reference-data-blue"), "readinessProbe", "httpGet")["port"] = int64(8080)
		}), prb, "readiness", "deployment/reference-data-blue", "", "want HTTP GET /health on 18085"},
		{"readiness on a named port", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			m(t, container(t, objs, "trade-feed"), "readinessProbe", "httpGet")["port"] = "http"
		}), prb, "readiness", "deployment/trade-feed", check.StatusPass, "HTTP GET / on 18086"},

		// 11-labels
		{"label missing", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			delete(labelsOf(t, objs, "Service", "trade-feed"), manifests.LabelPartOf)
		}), lab, "required-labels", "service/trade-feed", "", "missing app.kubernetes.io/part-of"},
		{"pod template label missing", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			delete(m(t, obj(t, objs, "Deployment", "database").Object, "spec", "template", "metadata", "labels"), manifests.LabelTier)
		}), lab, "required-labels", "deployment/database", "", "pod template: missing traderx.finos.org/tier"},
		{"wrong tier", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			labelsOf(t, objs, "Deployment", "database")[manifests.LabelTier] = "3"
		}), lab, "required-labels", "deployment/database", "", "traderx.finos.org/tier=3, database is in tier 1"},
		{"wrong app label", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			labelsOf(t, objs, "Service", "trade-feed")[manifests.LabelApp] = "feed"
		}), lab, "required-labels", "service/trade-feed", "", "app=feed, want trade-feed"},
		{"part of something else", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			labelsOf(t, objs, "NetworkPolicy", manifests.DefaultDenyPolicyName)[manifests.LabelPartOf] = "other"
		}), lab, "required-labels", "networkpolicy/" + manifests.DefaultDenyPolicyName, "", "app.kubernetes.io/part-of=other, want traderx"},
		{"scrape annotation without metrics", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			m(t, obj(t, objs, "Deployment", "reference-data-blue").Object, "spec", "template", "metadata")["annotations"] =
				map[string]any{"prometheus.io/scrape": "true", "prometheus.io/path": "/actuator/prometheus"}
		}), lab, "prometheus-annotations", "deployment/reference-data-blue", "", "reference-data serves no Prometheus metrics"},

		// 12-network-policies
		{"no default deny", dev, drop("NetworkPolicy", manifests.DefaultDenyPolicyName), np, "default-deny", "namespace/traderx-dev", "", "no default-deny ingress policy"},
		{"edge policy missing", dev, drop("NetworkPolicy", "allow-account-service-to-people-service"), np, "edge", "account-service→people-service", "", "blocked: account-service → people-service:18089"},
		{"edge policy on the wrong port", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			m(t, obj(t, objs, "NetworkPolicy", "allow-trade-service-to-trade-feed").Object, "spec", "ingress", 0, "ports", 0)["port"] = int64(8080)
		}), np, "edge", "trade-service→trade-feed", "", "blocked: trade-service-blue → trade-feed:18086"},
		{"allow-all policy", dev, func(t *testing.T, objs []*unstructured.Unstructured) []*unstructured.Unstructured {
			return append(objs, policy("allow-all", map[string]any{}, []any{map[string]any{}}))
		}, np, "no-allow-all", "namespace/traderx-dev", "", "open: database:18082 from any namespace"},
		{"no policies at all", dev, func(t *testing.T, objs []*unstructured.Unstructured) []*unstructured.Unstructured {
			return slices.DeleteFunc(objs, func(o *unstructured.Unstructured) bool { return o.GetKind() == "NetworkPolicy" })
		}, np, "no-allow-all", "namespace/traderx-dev", "", "no NetworkPolicy: the namespace is open"},
		{"edge the model does not have", dev, func(t *testing.T, objs []*unstructured.Unstructured) []*unstructured.Unstructured {
			return append(objs, policy("allow-trade-feed-to-database", map[string]any{"matchLabels": map[string]any{"app": "database"}},
				[]any{map[string]any{"from": []any{map[string]any{"podSelector": map[string]any{"matchLabels": map[string]any{"app": "trade-feed"}}}}}}))
		}, np, "no-extra-edges", "namespace/traderx-dev", "", "trade-feed → database"},

		// 13-security-context
		{"runs as root", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			m(t, podSpec(t, objs, "trade-service-blue"), "securityContext")["runAsNonRoot"] = false
		}), sec, "run-as-non-root", "deployment/trade-service-blue", "", "runAsNonRoot is not true"},
		{"container user 0", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			m(t, container(t, objs, "database"), "securityContext")["runAsUser"] = int64(0)
		}), sec, "run-as-non-root", "deployment/database", "", "runAsUser is 0"},
		{"privilege escalation", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			m(t, container(t, objs, "trade-feed"), "securityContext")["allowPrivilegeEscalation"] = true
		}), sec, "no-privilege-escalation", "deployment/trade-feed", "", "allowPrivilegeEscalation is not false"},
		{"privileged", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			m(t, container(t, objs, "trade-feed"), "securityContext")["privileged"] = true
		}), sec, "no-privilege-escalation", "deployment/trade-feed", "", "is privileged"},
		{"capabilities kept", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			delete(m(t, container(t, objs, "people-service"), "securityContext"), "capabilities")
		}), sec, "drop-all-capabilities", "deployment/people-service", "", "does not drop ALL"},
		{"capability added", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			m(t, container(t, objs, "people-service"), "securityContext", "capabilities")["add"] = []any{"NET_ADMIN"}
		}), sec, "drop-all-capabilities", "deployment/people-service", "", "adds [NET_ADMIN]"},
		{"seccomp unconfined", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			m(t, podSpec(t, objs, "account-service"), "securityContext", "seccompProfile")["type"] = "Unconfined"
		}), sec, "seccomp", "deployment/account-service", "", "seccomp profile Unconfined"},
		{"no seccomp profile", dev, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			delete(m(t, podSpec(t, objs, "account-service"), "securityContext"), "seccompProfile")
		}), sec, "seccomp", "deployment/account-service", "", "seccomp profile none"},

		// 15-availability
		{"no PodDisruptionBudget", prod, drop("PodDisruptionBudget", "trade-service"), avl, "pdb", "service/trade-service", "", "no PodDisruptionBudget selects trade-service's pods"},
		{"budget blocks drains", prod, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			m(t, obj(t, objs, "PodDisruptionBudget", "account-service").Object, "spec")["maxUnavailable"] = int64(0)
		}), avl, "pdb", "service/account-service", "", "allows no disruption of 2 replicas"},
		{"no topology spread", prod, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			delete(podSpec(t, objs, "trade-service-blue"), "topologySpreadConstraints")
		}), avl, "topology-spread", "service/trade-service", "", "every replica of trade-service may land on one node"},
		{"single replica in prod", prod, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			m(t, obj(t, objs, "Deployment", "people-service").Object, "spec")["replicas"] = int64(1)
		}), avl, "single-replica", "service/people-service", check.StatusWarn, "a pod restart or node drain makes people-service unavailable"},
		{"budget still holds after a blue-green switch", prod, edit(func(t *testing.T, objs []*unstructured.Unstructured) {
			m(t, obj(t, objs, "Service", "trade-service").Object, "spec", "selector")[manifests.LabelColour] = traderx.Green
			m(t, obj(t, objs, "Deployment", "trade-service-green").Object, "spec")["replicas"] = int64(3)
			m(t, obj(t, objs, "Deployment", "trade-service-blue").Object, "spec")["replicas"] = int64(0)
		}), avl, "pdb", "service/trade-service", check.StatusPass, "PodDisruptionBudget trade-service covers 3 replicas"},
	}
}

// Each mutation of a rendered environment is caught by the validation meant
// for it, with its target and reason.
func TestMutationsFailTheirValidation(t *testing.T) {
	for _, tt := range mutations() {
		t.Run(tt.name, func(t *testing.T) {
			env, objs := rendered(t, tt.env)
			objs = tt.mutate(t, objs)
			r := runOffline(t, env, objs)
			want := tt.status
			if want == "" {
				want = check.StatusFail
			}
			got := find(r, tt.suite, tt.check, tt.target)
			if len(got) == 0 {
				t.Fatalf("no %s %s check on %s; failures:\n%s", tt.suite, tt.check, tt.target, bad(r))
			}
			for _, c := range got {
				if c.Status != want || !strings.Contains(c.Message, tt.msg) {
					t.Errorf("%s %s %s: %s %q, want %s containing %q", c.Suite, c.Name, c.Target, c.Status, c.Message, want, tt.msg)
				}
				if c.Status == check.StatusFail && c.Hint == "" {
					t.Errorf("%s %s %s fails without a hint", c.Suite, c.Name, c.Target)
				}
			}
			if want == check.StatusFail && r.ExitCode(check.FailOnFail) != check.ExitFailed {
				t.Errorf("exit code %d, want %d", r.ExitCode(check.FailOnFail), check.ExitFailed)
			}
		})
	}
}

// coverageKey names a validation; the dependency suite's checks are named
// after variables, so they count as one validation.
func coverageKey(c check.Check) string {
	if c.Suite == SuiteDependencies {
		return c.Suite + "/<env var>"
	}
	return c.Suite + "/" + c.Name
}

// Every validation that clean offline environments evaluate has at least one
// mutation above that makes it fail (or warn), so none of them can pass
// whatever the input.
func TestEveryOfflineValidationCanFail(t *testing.T) {
	evaluated := map[string]bool{}
	for _, name := range traderx.EnvironmentNames() {
		env, objs := rendered(t, name)
		for _, c := range runOffline(t, env, objs).Checks {
			if c.Status != check.StatusSkip {
				evaluated[coverageKey(c)] = true
			}
		}
	}
	caught := map[string]bool{}
	for _, tt := range mutations() {
		if tt.status == "" || tt.status == check.StatusWarn {
			caught[coverageKey(check.Check{Suite: tt.suite, Name: tt.check})] = true
		}
	}
	caught[SuiteAvailability+"/singleton"] = true // WARNs in every clean protected environment
	for k := range evaluated {
		if !caught[k] {
			t.Errorf("no mutation makes %s fail", k)
		}
	}
}

// Offline objects that are not what their kind says are bad input, not a
// validation failure.
func TestMalformedObjectIsAnError(t *testing.T) {
	env, objs := rendered(t, "dev")
	m(t, obj(t, objs, "Deployment", "trade-feed").Object, "spec")["replicas"] = "two"
	if _, err := Run(Input{Env: env, Objects: objs}); err == nil || !strings.Contains(err.Error(), "Deployment trade-feed") {
		t.Errorf("err %v, want one naming Deployment trade-feed", err)
	}
}

// Objects without a namespace (a ConfigHub unit's data may omit it) are
// judged as if applied to the environment's namespace.
func TestObjectsWithoutNamespace(t *testing.T) {
	env, objs := rendered(t, "dev")
	for _, o := range objs {
		o.SetNamespace("")
	}
	if r := runOffline(t, env, objs); r.Summary.Failed > 0 || r.Summary.Warnings > 0 {
		t.Errorf("objects without a namespace:\n%s", bad(r))
	}
}

// With -n, the expected namespace follows the override.
func TestNamespaceOverride(t *testing.T) {
	env, objs := rendered(t, "dev")
	env.NamespaceOverride = "elsewhere"
	r := runOffline(t, env, objs)
	got := find(r, SuiteNamespace, "exists", "namespace/elsewhere")
	if len(got) != 1 || got[0].Status != check.StatusFail || r.Namespace != "elsewhere" {
		t.Errorf("namespace override: %+v (report namespace %s)", got, r.Namespace)
	}
}
