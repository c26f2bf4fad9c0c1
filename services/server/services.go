package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/auth"
	"m3o.dev/services/config"
	"m3o.dev/services/config/configserver"
	"m3o.dev/services/registry/registryserver"
	"m3o.dev/services/store"
	"m3o.dev/services/store/cockroach"
	"m3o.dev/services/store/pebble"
	"m3o.dev/services/store/storeserver"
)

// sweepInterval is how often the store deletes expired records.
const sweepInterval = time.Minute

func (p *platform) startStore() error {
	backend, err := p.openStoreBackend()
	if err != nil {
		return err
	}
	p.onClose(func() { backend.Close() })
	bundle, err := p.pki.bundle(svcStore)
	if err != nil {
		return err
	}
	log := p.log.With("service", svcStore)
	svc := store.New(backend, log, store.Options{QuotaBytes: p.cfg.QuotaBytes})
	p.serve(svcStore, storeserver.NewServer(svc, bundle, p.keys.Verifier(), log))
	p.run(func(ctx context.Context) { store.Sweep(ctx, backend, sweepInterval, log) })
	return nil
}

func (p *platform) openStoreBackend() (store.Backend, error) {
	switch p.cfg.Store {
	case StoreCockroach:
		b, err := cockroach.Open(p.ctx, p.cfg.StoreDSN, cockroach.Options{})
		if err != nil {
			return nil, fmt.Errorf("open the cockroach store: %w", err)
		}
		return b, nil
	default:
		b, err := pebble.Open(p.dataPath("store"), pebble.Options{Logger: p.log.With("component", "pebble")})
		if err != nil {
			return nil, fmt.Errorf("open the pebble store: %w", err)
		}
		return b, nil
	}
}

func (p *platform) startRegistry() error {
	embedded := ""
	if len(p.cfg.EtcdEndpoints) == 0 {
		embedded = p.dataPath("etcd")
	}
	log := p.log.With("service", svcRegistry)
	backend, closeBackend, err := registryserver.OpenEtcd(p.cfg.EtcdEndpoints, embedded, log)
	if err != nil {
		return err
	}
	p.onClose(closeBackend)
	bundle, err := p.pki.bundle(svcRegistry)
	if err != nil {
		return err
	}
	p.serve(svcRegistry, registryserver.NewServer(backend, bundle, p.keys.Verifier(), log))
	return nil
}

func (p *platform) startAuth() error {
	conn, err := p.dial(svcAuth, svcStore)
	if err != nil {
		return err
	}
	bundle, err := p.pki.bundle(svcAuth)
	if err != nil {
		return err
	}
	cfg := auth.DefaultConfig()
	cfg.DataDir = p.cfg.DataDir
	cfg.AdminPassword = p.cfg.AdminPassword
	log := p.log.With("service", svcAuth)
	svc, err := auth.New(p.ctx, cfg, auth.Deps{Store: storev1.NewStoreServiceClient(conn), Logger: log, Out: p.out})
	if err != nil {
		return fmt.Errorf("start auth: %w", err)
	}
	p.serve(svcAuth, svc.Server(bundle.ServerConfig()))
	p.run(svc.Run)
	return nil
}

func (p *platform) startConfig() error {
	ring, err := p.keyring()
	if err != nil {
		return err
	}
	conn, err := p.dial(svcConfig, svcStore)
	if err != nil {
		return err
	}
	bundle, err := p.pki.bundle(svcConfig)
	if err != nil {
		return err
	}
	log := p.log.With("service", svcConfig)
	svc, err := config.New(config.Options{Store: storev1.NewStoreServiceClient(conn), Keyring: ring, Logger: log})
	if err != nil {
		return fmt.Errorf("start config: %w", err)
	}
	p.serve(svcConfig, configserver.NewServer(svc, bundle, p.keys.Verifier(), log))
	return nil
}

// keyring loads the config encryption keys, creating them on first start.
func (p *platform) keyring() (*config.Keyring, error) {
	file := p.dataPath("config-keys.json")
	ring, err := config.LoadKeyring(file)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return ring, err
	}
	if ring, err = config.GenerateKeyring(); err != nil {
		return nil, err
	}
	if err := ring.WriteFile(file); err != nil {
		return nil, err
	}
	return ring, nil
}
