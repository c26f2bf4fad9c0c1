// Package netpol decides which connections a set of Kubernetes
// NetworkPolicies admits, the way a network plugin that enforces them
// does, so that tests can check policies where no plugin runs.
//
// A connection from a source to a pod's port is admitted when both ends
// allow it: the source's egress (if a policy of its namespace selects it
// for Egress) and the destination's ingress (if a policy of its namespace
// selects it for Ingress). A pod that no policy selects for a direction is
// open in that direction; once one does, only what some selecting policy's
// rules allow gets through. Peers are matched by pod selector (in the
// policy's namespace), namespace selector, both, or IP block; ports by
// number, range (endPort) or container port name, and protocol (TCP when
// unset).
//
// IP blocks are matched against every endpoint's address, pods' included:
// what a plugin does with a pod's address in an ipBlock varies, and
// matching it can only admit more, which is the safe side for a check
// that nothing unwanted gets in.
package netpol

import (
	"fmt"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Endpoint is one end of a connection: a pod, or an address outside the
// cluster when Namespace is empty.
type Endpoint struct {
	// Name identifies the endpoint in messages.
	Name string
	// Namespace is the pod's namespace; empty for an address outside the
	// cluster.
	Namespace string
	// Labels are the pod's labels.
	Labels map[string]string
	// Ports are the pod's container ports, which named policy ports refer to.
	Ports []corev1.ContainerPort
	// IP is the endpoint's address, matched against IP blocks.
	IP netip.Addr
}

// IsPod reports whether the endpoint is a pod of the cluster.
func (e Endpoint) IsPod() bool { return e.Namespace != "" }

// Policies are the NetworkPolicies of a cluster and the labels of its
// namespaces, which namespace selectors match.
type Policies struct {
	policies   []networkingv1.NetworkPolicy
	namespaces map[string]map[string]string
}

// New returns the policies, with the labels of each namespace by name. A
// namespace missing from namespaces has only its kubernetes.io/metadata.name
// label, which the API server gives every namespace.
func New(policies []networkingv1.NetworkPolicy, namespaces map[string]map[string]string) *Policies {
	return &Policies{policies: policies, namespaces: namespaces}
}

// Admits reports whether a connection from src to port/protocol of the pod
// dst is admitted. protocol "" means TCP.
func (p *Policies) Admits(src, dst Endpoint, port int32, protocol corev1.Protocol) (bool, error) {
	if !dst.IsPod() {
		return false, fmt.Errorf("destination %s is not a pod", dst.Name)
	}
	if protocol == "" {
		protocol = corev1.ProtocolTCP
	}
	in, err := p.allows(networkingv1.PolicyTypeIngress, dst, src, dst, port, protocol)
	if err != nil || !in || !src.IsPod() {
		return in, err
	}
	return p.allows(networkingv1.PolicyTypeEgress, src, dst, dst, port, protocol)
}

// allows decides one direction: whether the policies selecting subject for
// dir let it talk with peer on dst's port.
func (p *Policies) allows(dir networkingv1.PolicyType, subject, peer, dst Endpoint, port int32, protocol corev1.Protocol) (bool, error) {
	isolated := false
	for i := range p.policies {
		pol := &p.policies[i]
		if pol.Namespace != subject.Namespace || !hasType(pol, dir) {
			continue
		}
		selected, err := matches(&pol.Spec.PodSelector, subject.Labels)
		if err != nil {
			return false, fmt.Errorf("policy %s/%s: %w", pol.Namespace, pol.Name, err)
		}
		if !selected {
			continue
		}
		isolated = true
		ok, err := p.ruleAllows(pol, dir, peer, dst, port, protocol)
		if err != nil || ok {
			return ok, err
		}
	}
	return !isolated, nil
}

// hasType reports whether the policy applies to dir, with the API's
// default for an empty policyTypes: Ingress always, Egress when the policy
// has egress rules.
func hasType(pol *networkingv1.NetworkPolicy, dir networkingv1.PolicyType) bool {
	if len(pol.Spec.PolicyTypes) > 0 {
		return slices.Contains(pol.Spec.PolicyTypes, dir)
	}
	return dir == networkingv1.PolicyTypeIngress || len(pol.Spec.Egress) > 0
}

// ruleAllows reports whether one of the policy's rules for dir admits peer
// on dst's port.
func (p *Policies) ruleAllows(pol *networkingv1.NetworkPolicy, dir networkingv1.PolicyType, peer, dst Endpoint, port int32, protocol corev1.Protocol) (bool, error) {
	type rule struct {
		peers []networkingv1.NetworkPolicyPeer
		ports []networkingv1.NetworkPolicyPort
	}
	var rules []rule
	if dir == networkingv1.PolicyTypeIngress {
		for _, r := range pol.Spec.Ingress {
			rules = append(rules, rule{r.From, r.Ports})
		}
	} else {
		for _, r := range pol.Spec.Egress {
			rules = append(rules, rule{r.To, r.Ports})
		}
	}
	for _, r := range rules {
		if !portMatches(r.ports, dst, port, protocol) {
			continue
		}
		ok, err := p.peersMatch(pol.Namespace, r.peers, peer)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// portMatches reports whether the rule's ports include port/protocol of
// dst; no ports means every port.
func portMatches(ports []networkingv1.NetworkPolicyPort, dst Endpoint, port int32, protocol corev1.Protocol) bool {
	if len(ports) == 0 {
		return true
	}
	for _, pp := range ports {
		proto := corev1.ProtocolTCP
		if pp.Protocol != nil {
			proto = *pp.Protocol
		}
		if proto != protocol {
			continue
		}
		if pp.Port == nil {
			return true
		}
		if number, ok := resolve(pp, dst, protocol); ok && inRange(number, pp.EndPort, port) {
			return true
		}
	}
	return false
}

// resolve returns the port number a policy port names: its number, or the
// number of dst's container port of that name and protocol.
func resolve(pp networkingv1.NetworkPolicyPort, dst Endpoint, protocol corev1.Protocol) (int32, bool) {
	if pp.Port.StrVal == "" {
		return pp.Port.IntVal, true
	}
	for _, cp := range dst.Ports {
		proto := cp.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		if cp.Name == pp.Port.StrVal && proto == protocol {
			return cp.ContainerPort, true
		}
	}
	return 0, false
}

func inRange(first int32, end *int32, port int32) bool {
	if end == nil {
		return port == first
	}
	return port >= first && port <= *end
}

// peersMatch reports whether endpoint is among the peers; no peers means
// every endpoint.
func (p *Policies) peersMatch(policyNamespace string, peers []networkingv1.NetworkPolicyPeer, e Endpoint) (bool, error) {
	if len(peers) == 0 {
		return true, nil
	}
	for _, peer := range peers {
		ok, err := p.peerMatches(policyNamespace, peer, e)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

func (p *Policies) peerMatches(policyNamespace string, peer networkingv1.NetworkPolicyPeer, e Endpoint) (bool, error) {
	if peer.IPBlock != nil {
		return inBlock(peer.IPBlock, e.IP)
	}
	if !e.IsPod() {
		return false, nil
	}
	if peer.NamespaceSelector == nil {
		if e.Namespace != policyNamespace {
			return false, nil
		}
	} else if ok, err := matches(peer.NamespaceSelector, p.namespaceLabels(e.Namespace)); err != nil || !ok {
		return false, err
	}
	if peer.PodSelector == nil {
		return true, nil
	}
	return matches(peer.PodSelector, e.Labels)
}

// namespaceLabels returns a namespace's labels, with the name label the
// API server sets on every namespace.
func (p *Policies) namespaceLabels(ns string) map[string]string {
	l := map[string]string{"kubernetes.io/metadata.name": ns}
	for k, v := range p.namespaces[ns] {
		l[k] = v
	}
	return l
}

func inBlock(b *networkingv1.IPBlock, ip netip.Addr) (bool, error) {
	if !ip.IsValid() {
		return false, nil
	}
	cidr, err := netip.ParsePrefix(b.CIDR)
	if err != nil {
		return false, fmt.Errorf("ipBlock %q: %w", b.CIDR, err)
	}
	if !cidr.Contains(ip) {
		return false, nil
	}
	for _, except := range b.Except {
		ex, err := netip.ParsePrefix(except)
		if err != nil {
			return false, fmt.Errorf("ipBlock except %q: %w", except, err)
		}
		if ex.Contains(ip) {
			return false, nil
		}
	}
	return true, nil
}

// matches reports whether a label selector selects set; the empty
// selector selects everything.
func matches(sel *metav1.LabelSelector, set map[string]string) (bool, error) {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return false, err
	}
	return s.Matches(labels.Set(set)), nil
}
