package rollout

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// ExtraPodLabelsAnnotation on a Deployment's pod template lists the label
// keys a blue-green added through BlueGreenOptions.ExtraPodLabels, so the
// next run of that colour removes them again.
const ExtraPodLabelsAnnotation = "traderx.finos.org/extra-pod-labels"

// checkExtraPodLabels refuses extra pod labels that would move pods out of
// their colour's selector or misstate their version.
func checkExtraPodLabels(extra map[string]string) error {
	for k := range extra {
		if k == manifests.LabelApp || k == manifests.LabelColour || k == manifests.LabelVersion {
			return inputf("extra pod label %s would change the colour's selector or version", k)
		}
	}
	return nil
}

// deployEdit gives a colour's Deployment the image of version, replicas,
// the version label and the extra pod labels.
func deployEdit(svc traderx.Service, colour, version string, replicas int32, extra map[string]string) Edit {
	return Edit{Unit: manifests.DeploymentUnitName(svc, colour), Mutate: func(objs []*unstructured.Unstructured) error {
		d, err := objectOf(objs, "Deployment")
		if err != nil {
			return err
		}
		if err := setReplicas(d, replicas); err != nil {
			return err
		}
		c, err := mainContainer(d, svc)
		if err != nil {
			return err
		}
		c["image"] = svc.Image(version)
		labels := d.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[manifests.LabelVersion] = version
		d.SetLabels(labels)
		podLabels, _, _ := unstructured.NestedStringMap(d.Object, "spec", "template", "metadata", "labels")
		podAnn, _, _ := unstructured.NestedStringMap(d.Object, "spec", "template", "metadata", "annotations")
		if podLabels == nil {
			podLabels = map[string]string{}
		}
		if podAnn == nil {
			podAnn = map[string]string{}
		}
		for k := range strings.SplitSeq(podAnn[ExtraPodLabelsAnnotation], ",") {
			delete(podLabels, k)
		}
		delete(podAnn, ExtraPodLabelsAnnotation)
		maps.Copy(podLabels, extra)
		if len(extra) > 0 {
			podAnn[ExtraPodLabelsAnnotation] = strings.Join(slices.Sorted(maps.Keys(extra)), ",")
		}
		podLabels[manifests.LabelVersion] = version
		if err := unstructured.SetNestedStringMap(d.Object, podLabels, "spec", "template", "metadata", "labels"); err != nil {
			return err
		}
		if len(podAnn) == 0 {
			unstructured.RemoveNestedField(d.Object, "spec", "template", "metadata", "annotations")
			return nil
		}
		return unstructured.SetNestedStringMap(d.Object, podAnn, "spec", "template", "metadata", "annotations")
	}}
}

// scaleEdit sets the replicas of a colour's Deployment ("" for a service
// without colours).
func scaleEdit(svc traderx.Service, colour string, n int32) Edit {
	return Edit{Unit: manifests.DeploymentUnitName(svc, colour), Mutate: func(objs []*unstructured.Unstructured) error {
		d, err := objectOf(objs, "Deployment")
		if err != nil {
			return err
		}
		return setReplicas(d, n)
	}}
}

func selectorEdit(svc traderx.Service, colour string) Edit {
	return Edit{Unit: manifests.ServiceUnitName(svc), Mutate: func(objs []*unstructured.Unstructured) error {
		s, err := objectOf(objs, "Service")
		if err != nil {
			return err
		}
		return unstructured.SetNestedField(s.Object, colour, "spec", "selector", manifests.LabelColour)
	}}
}

// replicasOf reads spec.replicas whatever number type the decoder chose
// (absent means 1, as in Kubernetes).
func replicasOf(d *unstructured.Unstructured) int32 {
	v, found, _ := unstructured.NestedFieldNoCopy(d.Object, "spec", "replicas")
	if !found {
		return 1
	}
	switch n := v.(type) {
	case int64:
		return int32(n)
	case int:
		return int32(n)
	case int32:
		return n
	case float64:
		return int32(n)
	}
	return 1
}

// setReplicas writes spec.replicas.
func setReplicas(d *unstructured.Unstructured, n int32) error {
	return unstructured.SetNestedField(d.Object, int64(n), "spec", "replicas")
}

// objectOf returns the one object of kind among a unit's objects: a
// TraderX unit holds one Deployment or one Service, so none or two are
// unit data this package must not guess about.
func objectOf(objs []*unstructured.Unstructured, kind string) (*unstructured.Unstructured, error) {
	var found *unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() != kind {
			continue
		}
		if found != nil {
			return nil, fmt.Errorf("more than one %s in the unit (%s, %s)", kind, found.GetName(), o.GetName())
		}
		found = o
	}
	if found == nil {
		return nil, fmt.Errorf("no %s in the unit", kind)
	}
	return found, nil
}

// deploymentUnits names a service's Deployment units (both colours of a
// blue-green service).
func deploymentUnits(svc traderx.Service, colours []string) []string {
	if !svc.BlueGreen {
		return []string{manifests.DeploymentUnitName(svc, "")}
	}
	var out []string
	for _, c := range colours {
		out = append(out, manifests.DeploymentUnitName(svc, c))
	}
	return out
}

// mainContainer returns the container named after the service (the only
// one TraderX renders), as a map that edits change in place.
func mainContainer(d *unstructured.Unstructured, svc traderx.Service) (map[string]any, error) {
	v, _, _ := unstructured.NestedFieldNoCopy(d.Object, "spec", "template", "spec", "containers")
	cs, _ := v.([]any)
	for _, c := range cs {
		if m, ok := c.(map[string]any); ok && m["name"] == svc.Name {
			return m, nil
		}
	}
	return nil, fmt.Errorf("Deployment %s has no container %s", d.GetName(), svc.Name)
}
