package netpol

import (
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

var (
	web = Endpoint{Name: "web", Namespace: "app", Labels: map[string]string{"role": "web"}, IP: netip.MustParseAddr("10.0.0.1"),
		Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP}}}
	db      = Endpoint{Name: "db", Namespace: "app", Labels: map[string]string{"role": "db"}, IP: netip.MustParseAddr("10.0.0.2")}
	other   = Endpoint{Name: "other", Namespace: "app", Labels: map[string]string{"role": "other"}, IP: netip.MustParseAddr("10.0.0.3")}
	tenant  = Endpoint{Name: "tenant", Namespace: "tenant", Labels: map[string]string{"role": "web"}, IP: netip.MustParseAddr("10.0.1.1")}
	outside = Endpoint{Name: "outside", IP: netip.MustParseAddr("203.0.113.7")}
)

// namespaces labels tenant as a tenant's; app has only its name label.
var namespaces = map[string]map[string]string{"tenant": {"m3o.dev/tenant": "true"}}

func policy(ns, name string, selector map[string]string, spec func(*networkingv1.NetworkPolicySpec)) networkingv1.NetworkPolicy {
	p := networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: selector}},
	}
	if spec != nil {
		spec(&p.Spec)
	}
	return p
}

func pods(sel map[string]string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: sel}
}

func port(p int32) networkingv1.NetworkPolicyPort {
	return networkingv1.NetworkPolicyPort{Port: ptr.To(intstr.FromInt32(p))}
}

func ingress(peers []networkingv1.NetworkPolicyPeer, ports ...networkingv1.NetworkPolicyPort) func(*networkingv1.NetworkPolicySpec) {
	return func(s *networkingv1.NetworkPolicySpec) {
		s.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		s.Ingress = append(s.Ingress, networkingv1.NetworkPolicyIngressRule{From: peers, Ports: ports})
	}
}

var denyAll = policy("app", "deny", nil, func(s *networkingv1.NetworkPolicySpec) {
	s.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
})

func TestAdmits(t *testing.T) {
	dbFromWeb := policy("app", "db", map[string]string{"role": "db"},
		ingress([]networkingv1.NetworkPolicyPeer{{PodSelector: pods(map[string]string{"role": "web"})}}, port(5432)))
	tests := []struct {
		name     string
		policies []networkingv1.NetworkPolicy
		src, dst Endpoint
		port     int32
		protocol corev1.Protocol
		want     bool
	}{
		{"no policy: open", nil, other, db, 5432, "", true},
		{"default deny", []networkingv1.NetworkPolicy{denyAll}, web, db, 5432, "", false},
		{"pod selector admits", []networkingv1.NetworkPolicy{denyAll, dbFromWeb}, web, db, 5432, "", true},
		{"pod selector refuses another pod", []networkingv1.NetworkPolicy{denyAll, dbFromWeb}, other, db, 5432, "", false},
		{"pod selector is the policy's namespace only", []networkingv1.NetworkPolicy{dbFromWeb}, tenant, db, 5432, "", false},
		{"another port", []networkingv1.NetworkPolicy{dbFromWeb}, web, db, 5433, "", false},
		{"another protocol", []networkingv1.NetworkPolicy{dbFromWeb}, web, db, 5432, corev1.ProtocolUDP, false},
		{"a policy selecting another pod leaves this one open", []networkingv1.NetworkPolicy{dbFromWeb}, other, web, 8080, "", true},
		{"outside address, no ipBlock", []networkingv1.NetworkPolicy{dbFromWeb}, outside, db, 5432, "", false},
		{"empty from admits everyone", []networkingv1.NetworkPolicy{
			policy("app", "web", map[string]string{"role": "web"}, ingress(nil, port(8080))),
		}, outside, web, 8080, "", true},
		{"named port", []networkingv1.NetworkPolicy{
			policy("app", "web", map[string]string{"role": "web"}, ingress(nil, networkingv1.NetworkPolicyPort{Port: ptr.To(intstr.FromString("http"))})),
		}, other, web, 8080, "", true},
		{"named port of another protocol", []networkingv1.NetworkPolicy{
			policy("app", "web", map[string]string{"role": "web"}, ingress(nil, networkingv1.NetworkPolicyPort{Port: ptr.To(intstr.FromString("dns"))})),
		}, other, web, 53, "", false},
		{"port range", []networkingv1.NetworkPolicy{
			policy("app", "web", map[string]string{"role": "web"}, ingress(nil, networkingv1.NetworkPolicyPort{Port: ptr.To(intstr.FromInt32(8000)), EndPort: ptr.To[int32](8100)})),
		}, other, web, 8080, "", true},
		{"namespace selector", []networkingv1.NetworkPolicy{
			policy("app", "web", map[string]string{"role": "web"}, ingress([]networkingv1.NetworkPolicyPeer{{NamespaceSelector: pods(map[string]string{"m3o.dev/tenant": "true"})}})),
		}, tenant, web, 8080, "", true},
		{"namespace selector refuses its own namespace", []networkingv1.NetworkPolicy{
			policy("app", "web", map[string]string{"role": "web"}, ingress([]networkingv1.NetworkPolicyPeer{{NamespaceSelector: pods(map[string]string{"m3o.dev/tenant": "true"})}})),
		}, other, web, 8080, "", false},
		{"namespace name label", []networkingv1.NetworkPolicy{
			policy("app", "web", map[string]string{"role": "web"}, ingress([]networkingv1.NetworkPolicyPeer{{NamespaceSelector: pods(map[string]string{"kubernetes.io/metadata.name": "tenant"})}})),
		}, tenant, web, 8080, "", true},
		{"namespace and pod selector: both must match", []networkingv1.NetworkPolicy{
			policy("app", "web", map[string]string{"role": "web"}, ingress([]networkingv1.NetworkPolicyPeer{{
				NamespaceSelector: &metav1.LabelSelector{}, PodSelector: pods(map[string]string{"role": "db"}),
			}})),
		}, tenant, web, 8080, "", false},
		{"empty namespace selector: every namespace", []networkingv1.NetworkPolicy{
			policy("app", "web", map[string]string{"role": "web"}, ingress([]networkingv1.NetworkPolicyPeer{{
				NamespaceSelector: &metav1.LabelSelector{}, PodSelector: pods(map[string]string{"role": "web"}),
			}})),
		}, tenant, web, 8080, "", true},
		{"ipBlock", []networkingv1.NetworkPolicy{
			policy("app", "web", map[string]string{"role": "web"}, ingress([]networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "203.0.113.0/24"}}})),
		}, outside, web, 8080, "", true},
		{"ipBlock except", []networkingv1.NetworkPolicy{
			policy("app", "web", map[string]string{"role": "web"}, ingress([]networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: []string{"203.0.113.0/28"}}}})),
		}, outside, web, 8080, "", false},
		{"ipBlock matches pods too", []networkingv1.NetworkPolicy{
			policy("app", "web", map[string]string{"role": "web"}, ingress([]networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0"}}})),
		}, tenant, web, 8080, "", true},
		{"match expressions", []networkingv1.NetworkPolicy{
			policy("app", "db", map[string]string{"role": "db"}, ingress([]networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "role", Operator: metav1.LabelSelectorOpIn, Values: []string{"web", "other"}}},
			}}})),
		}, other, db, 5432, "", true},
		{"egress-only policy leaves ingress open", []networkingv1.NetworkPolicy{
			policy("app", "db", map[string]string{"role": "db"}, func(s *networkingv1.NetworkPolicySpec) {
				s.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
			}),
		}, web, db, 5432, "", true},
		{"egress deny of the source", []networkingv1.NetworkPolicy{
			policy("app", "web", map[string]string{"role": "web"}, func(s *networkingv1.NetworkPolicySpec) {
				s.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
			}),
		}, web, db, 5432, "", false},
		{"egress rule admits", []networkingv1.NetworkPolicy{
			policy("app", "web", map[string]string{"role": "web"}, func(s *networkingv1.NetworkPolicySpec) {
				s.Egress = []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{PodSelector: pods(map[string]string{"role": "db"})}}}}
			}),
		}, web, db, 5432, "", true},
		{"egress rules imply the Egress type", []networkingv1.NetworkPolicy{
			policy("app", "web", map[string]string{"role": "web"}, func(s *networkingv1.NetworkPolicySpec) {
				s.Egress = []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{PodSelector: pods(map[string]string{"role": "db"})}}}}
			}),
		}, web, other, 80, "", false},
		{"policies add up", []networkingv1.NetworkPolicy{denyAll, dbFromWeb,
			policy("app", "db2", map[string]string{"role": "db"}, ingress([]networkingv1.NetworkPolicyPeer{{PodSelector: pods(map[string]string{"role": "other"})}})),
		}, other, db, 5432, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := New(tt.policies, namespaces).Admits(tt.src, tt.dst, tt.port, tt.protocol)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Admits(%s → %s:%d/%s) = %v, want %v", tt.src.Name, tt.dst.Name, tt.port, tt.protocol, got, tt.want)
			}
		})
	}
}

func TestAdmitsErrors(t *testing.T) {
	bad := policy("app", "web", map[string]string{"role": "web"}, ingress([]networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "not a cidr"}}}))
	if _, err := New([]networkingv1.NetworkPolicy{bad}, nil).Admits(outside, web, 8080, ""); err == nil {
		t.Error("Admits with a malformed ipBlock = nil error, want one")
	}
	if _, err := New(nil, nil).Admits(web, outside, 80, ""); err == nil {
		t.Error("Admits to an address outside the cluster = nil error, want one")
	}
}
