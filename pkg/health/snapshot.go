package health

import (
	"context"
	"strings"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/kubernetes"

	"github.com/finos/traderx-plugins/pkg/cluster"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// Snapshot takes what health judges in the environment's namespace, listing
// only the pods (and ReplicaSets) whose app label names a TraderX service:
// every Deployment of the model selects its pods by that label, and in a
// namespace shared with other workloads their pods are most of what a full
// LIST would return. When a live TraderX Deployment selects otherwise (edited
// outside the model), it lists everything again, so the report is always
// the one a full snapshot gives.
func Snapshot(ctx context.Context, c kubernetes.Interface, env traderx.Environment) (*cluster.Snapshot, error) {
	apps, err := labels.NewRequirement(manifests.LabelApp, selection.In, traderx.ServiceNames())
	if err != nil {
		return nil, err
	}
	s, err := cluster.TakeSelected(ctx, c, env.Namespace(), labels.NewSelector().Add(*apps))
	if err != nil || selectsByApp(s) {
		return s, err
	}
	return cluster.Take(ctx, c, env.Namespace())
}

// selectsByApp reports whether every Deployment that health may judge (a
// service's, or any colour of a blue-green one's) selects its pods by its
// service's app label, so the selected pods hold all of its pods.
func selectsByApp(s *cluster.Snapshot) bool {
	for _, d := range s.Deployments {
		for _, svc := range traderx.Services() {
			judged := d.Name == svc.Name || (svc.BlueGreen && strings.HasPrefix(d.Name, svc.Name+"-"))
			if judged && (d.Spec.Selector == nil || d.Spec.Selector.MatchLabels[manifests.LabelApp] != svc.Name) {
				return false
			}
		}
	}
	return true
}
