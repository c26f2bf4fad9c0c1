package corekit

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"

	"m3o.dev/pkg/mtls"
)

// Open makes the Process of a standalone binary from its configuration: it
// loads the certificate, checks that it is micro/<spec.Name>, opens the
// listeners and starts keeping the token keys current. Close releases all
// of it.
func Open(ctx context.Context, spec Spec, cfg Config, logger *slog.Logger, out io.Writer) (*Process, error) {
	bundle, err := loadBundle(spec.Name, cfg)
	if err != nil {
		return nil, err
	}
	p := &Process{Name: spec.Name, Bundle: bundle, Peers: cfg.Peers, Logger: logger, Out: out}
	if err := p.listen(cfg); err != nil {
		p.Close()
		return nil, err
	}
	if p.Advertise, err = advertised(cfg.AdvertiseAddress, p.Listener.Addr()); err != nil {
		p.Close()
		return nil, err
	}
	if err := p.StartKeys(ctx); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// loadBundle loads the certificate the configuration names and checks that
// it is the service's own: a wrong one would be refused by every peer.
func loadBundle(name string, cfg Config) (*mtls.Bundle, error) {
	b, err := mtls.LoadBundle(cfg.CAFile, cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return nil, err
	}
	if want := Identity(name); b.Identity != want {
		return nil, fmt.Errorf("certificate %s is %s, want %s: %w", cfg.CertFile, b.Identity, want, ErrConfig)
	}
	return b, nil
}

// listen opens the API listener and, when configured, the health listener.
func (p *Process) listen(cfg Config) error {
	lis, err := Listen(cfg.Address)
	if err != nil {
		return err
	}
	p.Listener = lis
	p.onClose(func() { lis.Close() })
	if cfg.HealthAddress == "" {
		return nil
	}
	health, err := Listen(cfg.HealthAddress)
	if err != nil {
		return err
	}
	p.HealthListener = health
	p.onClose(func() { health.Close() })
	return nil
}

// advertised is the address to list in the registry: the one configured,
// or the listener's, with an unspecified host (":8083") replaced by this
// machine's first non-loopback address.
func advertised(configured string, listening net.Addr) (string, error) {
	if configured != "" {
		return configured, nil
	}
	host, port, err := net.SplitHostPort(listening.String())
	if err != nil {
		return "", err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsUnspecified() {
		return listening.String(), nil
	}
	if ip := outwardIP(); ip != nil {
		return net.JoinHostPort(ip.String(), port), nil
	}
	return net.JoinHostPort("127.0.0.1", port), nil
}

// outwardIP returns the first address of this machine that is not
// loopback, IPv4 first, or nil.
func outwardIP() net.IP {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var v6 net.IP
	for _, a := range addrs {
		ipnet, ok := a.(*net.IPNet)
		if !ok || ipnet.IP.IsLoopback() || ipnet.IP.IsLinkLocalUnicast() {
			continue
		}
		if ipnet.IP.To4() != nil {
			return ipnet.IP
		}
		if v6 == nil {
			v6 = ipnet.IP
		}
	}
	return v6
}
