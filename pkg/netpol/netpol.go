// Package netpol evaluates Kubernetes NetworkPolicies the way a conforming
// network plugin enforces ingress rules, so tests and validations can prove
// which connections a set of policies admits without a CNI.
package netpol

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Pod is one end of a connection: its namespace, the namespace's labels and
// the pod's labels.
type Pod struct {
	Namespace       string
	NamespaceLabels map[string]string
	Labels          map[string]string
}

// Port is the destination port; Name is the container port's name, used by
// policies that name ports.
type Port struct {
	Number   int32
	Name     string
	Protocol corev1.Protocol
}

// Allowed reports whether policies admit a connection from src to dst on port.
// Only ingress rules are evaluated: a pod no ingress policy selects accepts
// everything; a selected pod accepts what at least one of its policies allows.
func Allowed(policies []networkingv1.NetworkPolicy, src, dst Pod, port Port) bool {
	isolated := false
	for _, p := range policies {
		if p.Namespace != dst.Namespace || !hasIngressType(p) || !selects(&p.Spec.PodSelector, dst.Labels) {
			continue
		}
		isolated = true
		for _, rule := range p.Spec.Ingress {
			if peersMatch(rule.From, p.Namespace, src) && portsMatch(rule.Ports, port) {
				return true
			}
		}
	}
	return !isolated
}

// Isolated reports whether some ingress policy selects dst, i.e. whether the
// pod is protected by a default deny at all.
func Isolated(policies []networkingv1.NetworkPolicy, dst Pod) bool {
	for _, p := range policies {
		if p.Namespace == dst.Namespace && hasIngressType(p) && selects(&p.Spec.PodSelector, dst.Labels) {
			return true
		}
	}
	return false
}

func hasIngressType(p networkingv1.NetworkPolicy) bool {
	if len(p.Spec.PolicyTypes) == 0 {
		// The API server defaults policyTypes to Ingress (plus Egress when
		// egress rules exist); mirror that for objects not read back from it.
		return true
	}
	for _, t := range p.Spec.PolicyTypes {
		if t == networkingv1.PolicyTypeIngress {
			return true
		}
	}
	return false
}

func selects(sel *metav1.LabelSelector, l map[string]string) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return false // an invalid selector selects nothing
	}
	return s.Matches(labels.Set(l))
}

func peersMatch(peers []networkingv1.NetworkPolicyPeer, policyNS string, src Pod) bool {
	if len(peers) == 0 {
		return true
	}
	for _, peer := range peers {
		switch {
		case peer.IPBlock != nil:
			// Pod IPs are not modelled; an ipBlock never matches a pod here.
		case peer.NamespaceSelector != nil && peer.PodSelector != nil:
			if selects(peer.NamespaceSelector, src.NamespaceLabels) && selects(peer.PodSelector, src.Labels) {
				return true
			}
		case peer.NamespaceSelector != nil:
			if selects(peer.NamespaceSelector, src.NamespaceLabels) {
				return true
			}
		case peer.PodSelector != nil:
			if src.Namespace == policyNS && selects(peer.PodSelector, src.Labels) {
				return true
			}
		}
	}
	return false
}

func portsMatch(ports []networkingv1.NetworkPolicyPort, port Port) bool {
	if len(ports) == 0 {
		return true
	}
	proto := port.Protocol
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	for _, p := range ports {
		pp := corev1.ProtocolTCP
		if p.Protocol != nil {
			pp = *p.Protocol
		}
		if pp != proto {
			continue
		}
		if p.Port == nil {
			return true
		}
		if p.Port.StrVal != "" {
			if p.Port.StrVal == port.Name {
				return true
			}
			continue
		}
		lo, hi := p.Port.IntVal, p.Port.IntVal
		if p.EndPort != nil {
			hi = *p.EndPort
		}
		if port.Number >= lo && port.Number <= hi {
			return true
		}
	}
	return false
}
