// Package validate judges whether a TraderX environment is configured as the
// model (pkg/traderx) says it must be. The same suites run over a live
// namespace (a pkg/cluster Snapshot) and over manifests that never reached a
// cluster (rendered by pkg/manifests, or read from a file or a ConfigHub unit):
// both are turned into one typed view first, so every suite is written once.
// Validations that need live state (running replicas, ready endpoints, pods)
// SKIP offline and say why.
//
// The package is pure logic: it reads no cluster and no ConfigHub by itself.
// FetchConfigHub gathers the ConfigHub state through a small interface.
package validate

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/cluster"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// Suites, numbered as in the project's issue 4; the table shows them in this order.
const (
	SuiteConfigHubSpace = "01-confighub-space"
	SuiteConfigHubUnits = "02-confighub-units"
	SuiteNamespace      = "03-namespace"
	SuiteReplicas       = "04-replicas"
	SuiteDependencies   = "05-dependencies"
	SuiteEndpoints      = "06-endpoints"
	SuiteIngress        = "07-ingress"
	SuiteResources      = "08-resources"
	SuiteConfigHubSync  = "09-confighub-sync"
	SuiteProbes         = "10-probes"
	SuiteLabels         = "11-labels"
	SuiteNetworkPolicy  = "12-network-policies"
	SuiteSecurity       = "13-security-context"
	SuitePods           = "14-pods"
	SuiteAvailability   = "15-availability"
	SuiteSecrets        = "16-secrets"
)

type suite struct {
	id string
	// inNamespace suites judge objects inside the namespace; live, they SKIP
	// when the namespace does not exist.
	inNamespace bool
	run         func(*view) []check.Check
}

// suites in report order.
var suites = []suite{
	{SuiteConfigHubSpace, false, confighubSpaceSuite},
	{SuiteConfigHubUnits, false, confighubUnitsSuite},
	{SuiteNamespace, false, namespaceSuite},
	{SuiteReplicas, true, replicasSuite},
	{SuiteDependencies, true, dependenciesSuite},
	{SuiteEndpoints, true, endpointsSuite},
	{SuiteIngress, true, ingressSuite},
	{SuiteResources, true, resourcesSuite},
	{SuiteConfigHubSync, false, confighubSyncSuite},
	{SuiteProbes, true, probesSuite},
	{SuiteLabels, true, labelsSuite},
	{SuiteNetworkPolicy, true, networkPolicySuite},
	{SuiteSecurity, true, securitySuite},
	{SuitePods, true, podsSuite},
	{SuiteAvailability, true, availabilitySuite},
	{SuiteSecrets, true, secretsSuite},
}

// Suites lists every suite ID in report order.
func Suites() []string {
	out := make([]string, len(suites))
	for i, s := range suites {
		out[i] = s.id
	}
	return out
}

// Input is what one validation run judges: the environment's expectations and
// either live state (Snapshot) or offline objects (Objects).
type Input struct {
	Env traderx.Environment
	// Snapshot is the live namespace; when nil the run is offline over Objects.
	Snapshot *cluster.Snapshot
	// Objects are manifests validated without a cluster: rendered units, a
	// file, a ConfigHub unit's data.
	Objects []*unstructured.Unstructured
	// ConfigHub is the environment's state in ConfigHub; nil SKIPs suites
	// 01, 02 and 09 with ConfigHubSkipReason.
	ConfigHub *ConfigHubState
	// Secrets are the names of the Secrets present in the namespace (read as
	// metadata only); nil when they were not read.
	Secrets map[string]bool
	// OfflineReason says why live-only validations SKIP in an offline run,
	// e.g. "--local validates rendered manifests". Empty gives a generic reason.
	OfflineReason string
}

// Live reports whether the input is a live snapshot.
func (in Input) Live() bool { return in.Snapshot != nil }

// Run validates the input and returns the finalized report. It fails only when
// an offline object cannot be read as its Kubernetes kind (bad input).
func Run(in Input) (*check.Report, error) {
	v, err := newView(in)
	if err != nil {
		return nil, err
	}
	r := check.NewReport(check.KindValidate, in.Env.Name, v.Namespace)
	for _, s := range suites {
		if s.inNamespace && v.live && v.NamespaceObject == nil {
			// Everything else lives inside the namespace: one SKIP per suite
			// keeps the report about the one thing that is wrong.
			r.Add(skip(s.id, "suite", "namespace/"+v.Namespace,
				fmt.Sprintf("namespace %s does not exist: nothing to validate", v.Namespace)))
			continue
		}
		cs := s.run(v)
		if len(cs) == 0 {
			cs = []check.Check{skip(s.id, "suite", "input", "the input holds nothing this suite validates")}
		}
		r.Add(cs...)
	}
	r.Finalize()
	return r, nil
}

func pass(suite, name, target, format string, args ...any) check.Check {
	return check.Check{Suite: suite, Name: name, Target: target, Status: check.StatusPass, Message: fmt.Sprintf(format, args...)}
}

func fail(suite, name, target, hint, format string, args ...any) check.Check {
	return check.Check{Suite: suite, Name: name, Target: target, Status: check.StatusFail, Message: fmt.Sprintf(format, args...), Hint: hint}
}

func warn(suite, name, target, hint, format string, args ...any) check.Check {
	return check.Check{Suite: suite, Name: name, Target: target, Status: check.StatusWarn, Message: fmt.Sprintf(format, args...), Hint: hint}
}

func skip(suite, name, target, message string) check.Check {
	return check.Check{Suite: suite, Name: name, Target: target, Status: check.StatusSkip, Message: message}
}

// result is a PASS when problem is empty, else a FAIL carrying it.
func result(suite, name, target, problem, hint, ok string) check.Check {
	if problem != "" {
		return fail(suite, name, target, hint, "%s", problem)
	}
	return pass(suite, name, target, "%s", ok)
}
