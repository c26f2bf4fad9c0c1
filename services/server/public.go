package server

import (
	"fmt"
	"net"

	"google.golang.org/grpc"

	authv1 "m3o.dev/proto/m3o/auth/v1"
	"m3o.dev/services/proxy/proxyserver"
)

// startPublic runs the proxy on the public gRPC address and the gateway,
// health and metrics on the public HTTP address, as services/cmd/proxy
// does, over this process's own certificates and connections.
func (p *platform) startPublic() error {
	host, _, _ := net.SplitHostPort(p.cfg.Address)
	bundle, err := p.pki.bundle(svcProxy, publicHosts(host)...)
	if err != nil {
		return err
	}
	backends, err := p.proxyBackends()
	if err != nil {
		return err
	}
	rulesConn, err := p.dial(svcRouter, svcAuth)
	if err != nil {
		return err
	}
	srv := proxyserver.New(proxyserver.Options{
		Bundle:       bundle,
		Backends:     backends,
		Rules:        authv1.NewRulesServiceClient(rulesConn),
		Verifier:     p.keys.Verifier(),
		RateLimit:    p.cfg.RateLimit,
		DrainTimeout: p.cfg.DrainTimeout,
		Logger:       p.log.With("service", svcProxy),
	})
	grpcLis, err := net.Listen("tcp", p.cfg.Address)
	if err != nil {
		return fmt.Errorf("listen on the public address: %w", err)
	}
	httpLis, err := net.Listen("tcp", p.cfg.HTTPAddress)
	if err != nil {
		grpcLis.Close()
		return fmt.Errorf("listen on the HTTP address: %w", err)
	}
	p.grpcAddr, p.httpAddr = grpcLis.Addr().String(), httpLis.Addr().String()
	p.group.Go(func() error { return srv.Serve(p.ctx, grpcLis, httpLis) })
	return nil
}

// proxyBackends connects as micro/proxy to the service of every core API.
func (p *platform) proxyBackends() (map[string]*grpc.ClientConn, error) {
	backends := make(map[string]*grpc.ClientConn, len(proxyserver.CorePackages))
	for pkg, svc := range proxyserver.CorePackages {
		conn, err := p.dial(svcProxy, svc)
		if err != nil {
			return nil, err
		}
		backends[pkg] = conn
	}
	return backends, nil
}

// publicHosts are the names the proxy's certificate must carry besides
// loopback, so clients can check it against the address they dial.
func publicHosts(host string) []string {
	if host == "" || net.ParseIP(host).IsUnspecified() {
		return nil
	}
	return []string{host}
}
