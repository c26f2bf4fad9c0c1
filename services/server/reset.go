package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"google.golang.org/grpc"

	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/platform"
	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/auth"
	"m3o.dev/services/store"
)

// ResetAdmin enables the bootstrap admin of micro on a stopped server's
// data, sets a new generated password and returns it: `micro server
// reset-admin`, the operator's way back when no admin can log in. It
// refuses with ErrRunning while a server runs on the data dir, since the
// server caches what it changes.
//
// It needs no network: it opens the store backend of cfg (Store, StoreDSN
// and DataDir matter) in this process and runs auth's logic over the store
// service's own code, as micro/auth. When the data dir keeps a generated
// admin password, the file gets the new one.
func ResetAdmin(ctx context.Context, cfg Config, logger *slog.Logger) (string, error) {
	if err := cfg.validateStore(); err != nil {
		return "", err
	}
	if err := requireData(cfg); err != nil {
		return "", err
	}
	unlock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return "", err
	}
	defer unlock()
	backend, err := openBackend(ctx, cfg, logger)
	if err != nil {
		return "", err
	}
	defer backend.Close()
	password, err := auth.ResetAdmin(ctx, localStore{store.New(backend, logger, store.Options{})}, logger)
	if err != nil {
		return "", err
	}
	return password, rewritePasswordFile(filepath.Join(cfg.DataDir, auth.AdminPasswordFile), password)
}

// requireData refuses a data dir that no server has run on: resetting it
// would make an admin the first start then keeps.
func requireData(cfg Config) error {
	dir := cfg.DataDir
	if cfg.Store == StorePebble {
		dir = filepath.Join(cfg.DataDir, pebbleDir)
	}
	_, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no micro server data in %s: run 'micro server' on it first", cfg.DataDir)
	}
	return err
}

// rewritePasswordFile replaces the password in an existing admin password
// file, so that it never holds one that no longer works.
func rewritePasswordFile(file, password string) error {
	if _, err := os.Stat(file); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := os.WriteFile(file, []byte(password+"\n"), 0o600); err != nil {
		return fmt.Errorf("admin password file: %w", err)
	}
	return nil
}

// localStore is the store service's client over its handlers in this
// process, each call made as micro/auth, the identity that opens _auth.
type localStore struct {
	svc storev1.StoreServiceServer
}

// asAuth gives ctx the caller the store service would see on an mTLS
// connection from auth.
func asAuth(ctx context.Context) context.Context {
	return identity.NewContext(ctx, identity.Caller{Namespace: platform.Namespace, Service: platform.Auth, Subject: platform.Auth})
}

// Read implements storeclient.Store.
func (l localStore) Read(ctx context.Context, in *storev1.ReadRequest, _ ...grpc.CallOption) (*storev1.ReadResponse, error) {
	return l.svc.Read(asAuth(ctx), in)
}

// Write implements storeclient.Store.
func (l localStore) Write(ctx context.Context, in *storev1.WriteRequest, _ ...grpc.CallOption) (*storev1.WriteResponse, error) {
	return l.svc.Write(asAuth(ctx), in)
}

// Delete implements storeclient.Store.
func (l localStore) Delete(ctx context.Context, in *storev1.DeleteRequest, _ ...grpc.CallOption) (*storev1.DeleteResponse, error) {
	return l.svc.Delete(asAuth(ctx), in)
}

// List implements storeclient.Store.
func (l localStore) List(ctx context.Context, in *storev1.ListRequest, _ ...grpc.CallOption) (*storev1.ListResponse, error) {
	return l.svc.List(asAuth(ctx), in)
}
