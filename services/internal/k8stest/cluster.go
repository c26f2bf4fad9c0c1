package k8stest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// startTimeout bounds the start of each component, including retries
// after a lost port; the machine may be busy with other builds.
const startTimeout = 2 * time.Minute

// attempts is how often a component is started on fresh ports after it
// lost one to another process.
const attempts = 5

// Cluster is a running control plane: etcd, kube-apiserver and
// kube-controller-manager on loopback ports, with their files in a
// temporary directory. There is no scheduler and no kubelet, so Pods are
// created and admitted but stay Pending.
type Cluster struct {
	// Config reaches kube-apiserver as a member of system:masters.
	Config *rest.Config
	// Client is a clientset for Config.
	Client kubernetes.Interface
	// Kubeconfig is a kubeconfig file for Config, for tools such as kubectl.
	Kubeconfig string

	dir   string
	spawn *spawner
	procs []*process
}

// Start starts a control plane from the binaries in binDir ("" means
// BinEnv, or a build with scripts/k8s-bin.sh). Stop ends it; the children
// are also killed if the calling process dies first.
func Start(ctx context.Context, binDir string) (c *Cluster, err error) {
	if binDir == "" {
		if binDir, err = BinDir(); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp("", "m3o-k8stest-")
	if err != nil {
		return nil, err
	}
	c = &Cluster{dir: dir, spawn: newSpawner()}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	if err := writePKI(dir); err != nil {
		return nil, err
	}
	etcdURL, err := c.startEtcd(ctx, filepath.Join(binDir, "etcd"))
	if err != nil {
		return nil, err
	}
	if err := c.startAPIServer(ctx, filepath.Join(binDir, "kube-apiserver"), etcdURL); err != nil {
		return nil, err
	}
	if err := c.startControllerManager(ctx, filepath.Join(binDir, "kube-controller-manager")); err != nil {
		return nil, err
	}
	return c, nil
}

// Stop ends every process, newest first, and removes the directory.
func (c *Cluster) Stop() {
	for i := len(c.procs) - 1; i >= 0; i-- {
		c.procs[i].stop(10 * time.Second)
	}
	c.spawn.close()
	_ = os.RemoveAll(c.dir)
}

// writePKI writes the CA, the serving and client certificates, and the
// service-account signing key.
func writePKI(dir string) error {
	ca, err := newAuthority()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), ca.pem, 0o600); err != nil {
		return err
	}
	server := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	client := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	leaves := map[string]leaf{
		"etcd":           {commonName: "etcd", usage: server, serving: true},
		"etcd-client":    {commonName: "kube-apiserver", usage: client},
		"kube-apiserver": {commonName: "kube-apiserver", usage: server, serving: true},
		"admin":          {commonName: "m3o-test-admin", organization: []string{"system:masters"}, usage: client},
	}
	for name, l := range leaves {
		if err := ca.issue(dir, name, l); err != nil {
			return err
		}
	}
	return writeSigningKey(dir, "service-account")
}

// startEtcd starts a one-member etcd that serves clients over mTLS and
// returns its client URL.
func (c *Cluster) startEtcd(ctx context.Context, bin string) (string, error) {
	var url string
	args := func(ports []int) []string {
		url = loopback("https", ports[0])
		peer := loopback("http", ports[1])
		return []string{
			"--name=default", "--data-dir=" + filepath.Join(c.dir, "etcd"),
			"--listen-client-urls=" + url, "--advertise-client-urls=" + url,
			"--listen-peer-urls=" + peer, "--initial-advertise-peer-urls=" + peer,
			"--initial-cluster=default=" + peer,
			"--client-cert-auth", "--trusted-ca-file=" + c.file("ca.pem"),
			"--cert-file=" + c.file("etcd.pem"), "--key-file=" + c.file("etcd-key.pem"),
			// A test's data need not survive a crash of the machine.
			"--unsafe-no-fsync", "--log-level=warn",
		}
	}
	ready := func(ctx context.Context) error { return c.get(ctx, "etcd-client", url+"/health") }
	err := c.startRetrying(ctx, "etcd", bin, 2, args, ready)
	return url, err
}

// startAPIServer starts kube-apiserver on etcdURL with the admission
// plugins a production cluster runs, and points Config at it.
func (c *Cluster) startAPIServer(ctx context.Context, bin, etcdURL string) error {
	var host string
	args := func(ports []int) []string {
		host = loopback("https", ports[0])
		return []string{
			"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(ports[0]),
			"--etcd-servers=" + etcdURL, "--etcd-cafile=" + c.file("ca.pem"),
			"--etcd-certfile=" + c.file("etcd-client.pem"), "--etcd-keyfile=" + c.file("etcd-client-key.pem"),
			"--tls-cert-file=" + c.file("kube-apiserver.pem"), "--tls-private-key-file=" + c.file("kube-apiserver-key.pem"),
			"--client-ca-file=" + c.file("ca.pem"),
			"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
			"--service-account-key-file=" + c.file("service-account.pem"),
			"--service-account-signing-key-file=" + c.file("service-account-key.pem"),
			"--service-cluster-ip-range=10.0.0.0/24",
			"--authorization-mode=RBAC",
			"--enable-admission-plugins=NamespaceLifecycle,LimitRanger,ServiceAccount,ResourceQuota",
			// There is one server, on loopback, and no cluster network for
			// the kubernetes Service's endpoints to point into.
			"--endpoint-reconciler-type=none",
			"--profiling=false",
		}
	}
	ready := func(ctx context.Context) error { return c.get(ctx, "admin", host+"/readyz") }
	if err := c.startRetrying(ctx, "kube-apiserver", bin, 1, args, ready); err != nil {
		return err
	}
	c.Config = &rest.Config{
		Host: host,
		TLSClientConfig: rest.TLSClientConfig{
			CAFile: c.file("ca.pem"), CertFile: c.file("admin.pem"), KeyFile: c.file("admin-key.pem"),
		},
		// The client's default of 5 requests a second would pace the tests.
		QPS: 200, Burst: 400,
	}
	client, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		return err
	}
	c.Client = client
	c.Kubeconfig = c.file("admin.kubeconfig")
	return writeKubeconfig(c.Kubeconfig, c.Config)
}

// startControllerManager starts kube-controller-manager without a serving
// port and waits until its controllers work: the service-account
// controller has given the default namespace its account, which Pods need
// before admission lets them in.
func (c *Cluster) startControllerManager(ctx context.Context, bin string) error {
	args := func([]int) []string {
		return []string{
			"--kubeconfig=" + c.Kubeconfig,
			"--secure-port=0",
			"--leader-elect=false",
			"--service-account-private-key-file=" + c.file("service-account-key.pem"),
			"--root-ca-file=" + c.file("ca.pem"),
		}
	}
	ready := func(ctx context.Context) error {
		_, err := c.Client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err
	}
	return c.startRetrying(ctx, "kube-controller-manager", bin, 0, args, ready)
}

// startRetrying starts bin with args for nports fresh ports and polls
// ready until it succeeds. A process that lost one of its ports to another
// process is started again on new ones.
func (c *Cluster) startRetrying(ctx context.Context, name, bin string, nports int, args func([]int) []string, ready func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	for range attempts {
		ports, err := freePorts(nports)
		if err != nil {
			return err
		}
		p, err := c.spawn.run(c.dir, name, bin, args(ports))
		if err != nil {
			return err
		}
		err = waitReady(ctx, p, ready)
		if errors.Is(err, errPortInUse) {
			continue
		}
		if err != nil {
			p.stop(5 * time.Second)
			return err
		}
		c.procs = append(c.procs, p)
		return nil
	}
	return fmt.Errorf("%s: %w, %d times", name, errPortInUse, attempts)
}

// waitReady polls ready until it succeeds, the process exits or ctx ends.
func waitReady(ctx context.Context, p *process, ready func(context.Context) error) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if p.portInUse() {
			return errPortInUse
		}
		if p.exited() {
			return p.failure()
		}
		err := ready(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %v; the end of %s:\n%s", p.name, err, p.log, tail(p.log, 4096))
		case <-tick.C:
		}
	}
}

// get succeeds when url answers 200 to a GET made with the client
// certificate <cert>.pem.
func (c *Cluster) get(ctx context.Context, cert, url string) error {
	client, err := c.httpClient(cert)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

func (c *Cluster) httpClient(cert string) (*http.Client, error) {
	pair, err := tls.LoadX509KeyPair(c.file(cert+".pem"), c.file(cert+"-key.pem"))
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(c.file("ca.pem"))
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}}}
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}, nil
}

func (c *Cluster) file(name string) string { return filepath.Join(c.dir, name) }

// writeKubeconfig writes a kubeconfig file for cfg.
func writeKubeconfig(path string, cfg *rest.Config) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["k8stest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthority: cfg.CAFile}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificate: cfg.CertFile, ClientKey: cfg.KeyFile}
	kc.Contexts["k8stest"] = &clientcmdapi.Context{Cluster: "k8stest", AuthInfo: "admin"}
	kc.CurrentContext = "k8stest"
	return clientcmd.WriteToFile(*kc, path)
}
