package deploycheck

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"m3o.dev/services/internal/deploycheck/netpol"
)

// platformNamespace is the namespace deploy/kubernetes runs in.
const platformNamespace = "m3o"

// dbAccess says who may reach each port of the databases: the SQL and
// client ports are for the one service that opens each database (and the
// Job that creates the store's database and user); the peer ports are for
// the members.
var dbAccess = map[string]map[int32][]string{
	"cockroachdb": {26257: {"store", "cockroachdb-init"}, 26357: {"cockroachdb", "cockroachdb-init"}, 8080: nil},
	"etcd":        {2379: {"registry"}, 2380: {"etcd"}, 2381: nil},
}

// TestNetworkPolicies evaluates every NetworkPolicy of each overlay against
// the platform's pods and three strangers: a pod of the namespace that is
// none of the platform's, a tenant's pod that copies the store's labels,
// and an address outside the cluster. Only the listed workloads reach the
// databases; nothing from outside the namespace reaches anything but the
// proxy's public ports; the proxy reaches every core service.
func TestNetworkPolicies(t *testing.T) {
	for _, overlay := range overlays {
		t.Run(overlay, func(t *testing.T) {
			objs := renderOverlay(t, overlay)
			pols := netpol.New(policies(t, objs), map[string]map[string]string{"m3o-brave-otter-lamp": {"app.kubernetes.io/part-of": "m3o-tenant"}})
			pods := endpoints(workloads(t, objs))
			strangers := []netpol.Endpoint{
				{Name: "stranger", Namespace: platformNamespace, Labels: map[string]string{"app.kubernetes.io/name": "stranger"}, IP: netip.MustParseAddr("10.244.9.1")},
				{Name: "tenant", Namespace: "m3o-brave-otter-lamp", Labels: pods["store"].Labels, IP: netip.MustParseAddr("10.244.9.2")},
				{Name: "internet", IP: netip.MustParseAddr("203.0.113.7")},
			}
			sources := append(slices.Collect(maps.Values(pods)), strangers...)
			admitted := matrix(t, pols, sources, pods)
			checkDatabases(t, admitted, pods)
			checkFromOutside(t, admitted)
			checkPlatformPaths(t, admitted)
		})
	}
}

// route is one source reaching one port of one destination.
type route struct {
	from, to string
	port     int32
}

// matrix returns every admitted route from sources to the declared ports
// of pods.
func matrix(t *testing.T, pols *netpol.Policies, sources []netpol.Endpoint, pods map[string]netpol.Endpoint) map[route]bool {
	admitted := map[route]bool{}
	for _, dst := range pods {
		for _, p := range dst.Ports {
			for _, src := range sources {
				ok, err := pols.Admits(src, dst, p.ContainerPort, p.Protocol)
				if err != nil {
					t.Fatal(err)
				}
				if ok {
					admitted[route{src.Name, dst.Name, p.ContainerPort}] = true
				}
			}
		}
	}
	return admitted
}

// checkDatabases requires each database port to admit exactly the
// workloads dbAccess lists.
func checkDatabases(t *testing.T, admitted map[route]bool, pods map[string]netpol.Endpoint) {
	for db, ports := range dbAccess {
		if _, ok := pods[db]; !ok {
			t.Errorf("no pods of %s", db)
			continue
		}
		for port, want := range ports {
			var got []string
			for r := range admitted {
				if r.to == db && r.port == port {
					got = append(got, r.from)
				}
			}
			slices.Sort(got)
			want = slices.Sorted(slices.Values(want))
			if !slices.Equal(got, want) {
				t.Errorf("%s:%d admits %v, want %v", db, port, got, want)
			}
		}
	}
}

// checkFromOutside requires everything from outside the namespace to reach
// the proxy's public ports and nothing else.
func checkFromOutside(t *testing.T, admitted map[route]bool) {
	for _, from := range []string{"tenant", "internet"} {
		for _, port := range []int32{portTable["proxy"], httpPort} {
			if !admitted[route{from, "proxy", port}] {
				t.Errorf("%s cannot reach the proxy's port %d", from, port)
			}
		}
	}
	for r := range admitted {
		outside := r.from == "tenant" || r.from == "internet" || r.from == "stranger"
		public := r.to == "proxy" && (r.port == portTable["proxy"] || r.port == httpPort)
		if outside && !public {
			t.Errorf("%s reaches %s:%d; only the proxy's public ports admit what is not the platform's", r.from, r.to, r.port)
		}
	}
}

// checkPlatformPaths requires the calls the platform makes to get
// through, and nothing but the kubelet to reach a health port.
func checkPlatformPaths(t *testing.T, admitted map[route]bool) {
	var want []route
	for svc, port := range portTable {
		if svc != "proxy" {
			want = append(want, route{"proxy", svc, port})
		}
	}
	want = append(want,
		route{"auth", "store", portTable["store"]}, route{"config", "store", portTable["store"]},
		route{"store", "auth", portTable["auth"]}, route{"registry", "auth", portTable["auth"]},
		route{"config", "auth", portTable["auth"]}, route{"store", "registry", portTable["registry"]})
	for _, r := range want {
		if !admitted[r] {
			t.Errorf("%s cannot reach %s:%d", r.from, r.to, r.port)
		}
	}
	for r := range admitted {
		if r.port == healthPort {
			t.Errorf("%s reaches the health port of %s; only the kubelet should", r.from, r.to)
		}
	}
}

// policies decodes the NetworkPolicies among objs, all in the platform's
// namespace.
func policies(t *testing.T, objs []*unstructured.Unstructured) []networkingv1.NetworkPolicy {
	var pols []networkingv1.NetworkPolicy
	for _, u := range objs {
		if u.GetKind() != "NetworkPolicy" {
			continue
		}
		var p networkingv1.NetworkPolicy
		decode(t, u, &p)
		if p.Namespace != platformNamespace {
			t.Errorf("NetworkPolicy %s is in namespace %q, want %s", p.Name, p.Namespace, platformNamespace)
		}
		pols = append(pols, p)
	}
	if len(pols) == 0 {
		t.Fatal("no NetworkPolicy")
	}
	return pols
}

// endpoints makes one pod of each workload, named after it, with an
// address of its own.
func endpoints(ws []workload) map[string]netpol.Endpoint {
	pods := map[string]netpol.Endpoint{}
	for i, w := range ws {
		var ports []corev1.ContainerPort
		for _, c := range w.template.Spec.Containers {
			ports = append(ports, c.Ports...)
		}
		pods[w.name] = netpol.Endpoint{
			Name:      w.name,
			Namespace: platformNamespace,
			Labels:    w.template.Labels,
			Ports:     ports,
			IP:        netip.MustParseAddr(fmt.Sprintf("10.244.0.%d", i+1)),
		}
	}
	return pods
}
