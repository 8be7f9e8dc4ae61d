package netpol

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func policy(name string, sel map[string]string, rules ...networkingv1.NetworkPolicyIngressRule) networkingv1.NetworkPolicy {
	return networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: sel},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress:     rules,
		},
	}
}

func fromPods(l map[string]string, ports ...networkingv1.NetworkPolicyPort) networkingv1.NetworkPolicyIngressRule {
	return networkingv1.NetworkPolicyIngressRule{
		From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: l}}},
		Ports: ports,
	}
}

func tcp(p int32) networkingv1.NetworkPolicyPort {
	port := intstr.FromInt32(p)
	return networkingv1.NetworkPolicyPort{Port: &port}
}

func TestAllowed(t *testing.T) {
	web := Pod{Namespace: "ns", Labels: map[string]string{"app": "web"}}
	db := Pod{Namespace: "ns", Labels: map[string]string{"app": "db"}}
	other := Pod{Namespace: "other", NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": "other"}, Labels: map[string]string{"app": "web"}}
	ingressNS := Pod{Namespace: "ingress-nginx", NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": "ingress-nginx"}, Labels: map[string]string{"app": "nginx"}}
	deny := policy("deny", nil)
	named := intstr.FromString("jdbc")
	endPort := int32(5440)
	rangePort := intstr.FromInt32(5430)
	udp := corev1.ProtocolUDP

	tests := []struct {
		name     string
		policies []networkingv1.NetworkPolicy
		src, dst Pod
		port     Port
		want     bool
	}{
		{"no policy admits everything", nil, web, db, Port{Number: 5432}, true},
		{"default deny blocks", []networkingv1.NetworkPolicy{deny}, web, db, Port{Number: 5432}, false},
		{"allow edge on its port", []networkingv1.NetworkPolicy{deny, policy("a", map[string]string{"app": "db"}, fromPods(map[string]string{"app": "web"}, tcp(5432)))}, web, db, Port{Number: 5432}, true},
		{"allow edge, wrong port", []networkingv1.NetworkPolicy{deny, policy("a", map[string]string{"app": "db"}, fromPods(map[string]string{"app": "web"}, tcp(5432)))}, web, db, Port{Number: 80}, false},
		{"allow edge, wrong source", []networkingv1.NetworkPolicy{deny, policy("a", map[string]string{"app": "db"}, fromPods(map[string]string{"app": "api"}, tcp(5432)))}, web, db, Port{Number: 5432}, false},
		{"pod selector peer is namespace-local", []networkingv1.NetworkPolicy{deny, policy("a", map[string]string{"app": "db"}, fromPods(map[string]string{"app": "web"}))}, other, db, Port{Number: 5432}, false},
		{"namespace selector peer", []networkingv1.NetworkPolicy{deny, policy("a", map[string]string{"app": "db"}, networkingv1.NetworkPolicyIngressRule{
			From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "ingress-nginx"}}}}})}, ingressNS, db, Port{Number: 1}, true},
		{"named port matches", []networkingv1.NetworkPolicy{deny, policy("a", map[string]string{"app": "db"}, fromPods(map[string]string{"app": "web"}, networkingv1.NetworkPolicyPort{Port: &named}))}, web, db, Port{Number: 18082, Name: "jdbc"}, true},
		{"port range", []networkingv1.NetworkPolicy{deny, policy("a", map[string]string{"app": "db"}, fromPods(map[string]string{"app": "web"}, networkingv1.NetworkPolicyPort{Port: &rangePort, EndPort: &endPort}))}, web, db, Port{Number: 5435}, true},
		{"protocol mismatch", []networkingv1.NetworkPolicy{deny, policy("a", map[string]string{"app": "db"}, fromPods(map[string]string{"app": "web"}, networkingv1.NetworkPolicyPort{Protocol: &udp}))}, web, db, Port{Number: 53}, false},
		{"policy in another namespace does not isolate", []networkingv1.NetworkPolicy{{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "other"}}}, web, db, Port{Number: 1}, true},
		{"empty rule admits all", []networkingv1.NetworkPolicy{policy("all", nil, networkingv1.NetworkPolicyIngressRule{})}, other, db, Port{Number: 1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Allowed(tt.policies, tt.src, tt.dst, tt.port); got != tt.want {
				t.Errorf("Allowed = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestIsolated(t *testing.T) {
	db := Pod{Namespace: "ns", Labels: map[string]string{"app": "db"}}
	if Isolated(nil, db) {
		t.Error("no policies: not isolated")
	}
	if !Isolated([]networkingv1.NetworkPolicy{policy("deny", nil)}, db) {
		t.Error("default deny: isolated")
	}
}
