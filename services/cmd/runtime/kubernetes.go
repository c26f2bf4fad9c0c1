package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"
	clientset "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/platform"
	"m3o.dev/services/internal/corekit"
	"m3o.dev/services/runtime"
	"m3o.dev/services/runtime/kubernetes"
	"m3o.dev/services/runtime/kubernetes/artifact"
	"m3o.dev/services/runtime/runtimeserver"
)

// backendKubernetes runs services as Deployments on a cluster. It lives in
// this command alone, so that no other binary links client-go.
const backendKubernetes = "kubernetes"

// kubeFlags are the flags of the kubernetes backend.
func kubeFlags() []cli.Flag {
	f := corekit.OwnFlags(platform.Runtime)
	return []cli.Flag{
		f.String("kubeconfig", "", "kubeconfig `FILE` of the cluster (kubernetes backend); empty means the pod's own service account"),
		f.String("kube-image", "", "base `IMAGE` of services' pods, whose entrypoint fetches their binary (kubernetes backend)"),
		f.String("kube-artifact-url", "", "https `URL` the pods fetch binaries from: this runtime's artifact address (kubernetes backend)"),
		f.String("kube-platform-namespace", "m3o", "Kubernetes `NAMESPACE` of the core services, whose proxy may reach services' pods"),
		f.String("artifact-address", ":8088", "`HOST:PORT` where the pods fetch binaries over mTLS (kubernetes backend)"),
	}
}

// kubePreflight checks the kubernetes backend's flags.
func kubePreflight(c *cli.Context) []error {
	var errs []error
	if c.String("kube-image") == "" || c.String("kube-artifact-url") == "" {
		errs = append(errs, errors.New("--kube-image and --kube-artifact-url are required by the kubernetes backend"))
	}
	if _, _, err := net.SplitHostPort(c.String("artifact-address")); err != nil {
		errs = append(errs, fmt.Errorf("--artifact-address %q is not host:port", c.String("artifact-address")))
	}
	return errs
}

// openKubernetes opens the kubernetes backend, which builds with the local
// builder under --work-dir, and returns it with the loop that serves the
// pods their binaries.
func openKubernetes(c *cli.Context, p *corekit.Process, ca *mtls.CA) (*kubernetes.Backend, func(context.Context), error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.String("kubeconfig"))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: --kubeconfig: %w", corekit.ErrConfig, err)
	}
	client, err := clientset.NewForConfig(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: --kubeconfig: %w", corekit.ErrConfig, err)
	}
	buildOpts, err := runtimeserver.PrepareBuilds(p, localConfig(c, ca))
	if err != nil {
		return nil, nil, err
	}
	dir := c.String("work-dir")
	builder, err := kubernetes.NewLocalBuilder(filepath.Join(dir, "kubernetes"), buildOpts)
	if err != nil {
		return nil, nil, err
	}
	signer, err := runtime.NewSigner(ca, runtime.CertValidity)
	if err != nil {
		return nil, nil, err
	}
	artifacts := filepath.Join(dir, "artifacts")
	if err := os.MkdirAll(artifacts, 0o700); err != nil {
		return nil, nil, err
	}
	b, err := kubernetes.New(kubernetes.Options{
		Client: client, Certs: signer, Image: c.String("kube-image"), ArtifactURL: c.String("kube-artifact-url"),
		PlatformNamespace: c.String("kube-platform-namespace"), ProxyLabels: map[string]string{"app.kubernetes.io/name": "proxy"},
		Logger: p.Logger.With("component", "kubernetes"), Builder: builder, ArtifactDir: artifacts,
	})
	if err != nil {
		return nil, nil, err
	}
	serve, err := artifactServer(c.String("artifact-address"), artifacts, p)
	if err != nil {
		b.Close()
		return nil, nil, err
	}
	return b, serve, nil
}

// artifactServer listens on addr and returns the loop that serves the
// binaries under dir over mTLS with the runtime's own certificate, to
// clients of the platform CA, until its context ends.
func artifactServer(addr, dir string, p *corekit.Process) (func(context.Context), error) {
	h, err := artifact.Handler(dir)
	if err != nil {
		return nil, err
	}
	lis, err := corekit.Listen(addr)
	if err != nil {
		return nil, fmt.Errorf("listen for artifacts on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, TLSConfig: p.Bundle.ServerConfig(), ReadHeaderTimeout: 10 * time.Second}
	p.Logger.Info("serving binaries to pods", "artifact_address", lis.Addr().String())
	return func(ctx context.Context) {
		go func() {
			<-ctx.Done()
			shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.Shutdown(shut)
		}()
		if err := srv.ServeTLS(lis, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.Logger.Error("artifact server", "error", err)
		}
	}, nil
}
