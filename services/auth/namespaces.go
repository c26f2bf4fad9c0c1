package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"m3o.dev/pkg/rules"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	"m3o.dev/services/internal/invalid"
	"m3o.dev/services/internal/storeclient"
)

// namespacesToken binds a page token of the namespaces list; no namespace
// has this name, so a token of an account list never pages through it.
const namespacesToken = "*namespaces"

// Namespace is a namespace as auth knows it: created with its first
// account.
type Namespace struct {
	Name    string
	Created time.Time
}

// namespacesServer serves m3o.auth.v1.NamespacesService.
type namespacesServer struct {
	authv1.UnimplementedNamespacesServiceServer
	s *Service
}

// List implements authv1.NamespacesServiceServer.
func (n *namespacesServer) List(ctx context.Context, req *authv1.NamespacesServiceListRequest) (*authv1.NamespacesServiceListResponse, error) {
	if req.GetPageSize() > maxPageSize {
		return nil, n.s.toStatus(ctx, invalid.Field("page_size", "must be at most %d", maxPageSize))
	}
	size := req.GetPageSize()
	if size == 0 {
		size = defaultPageSize
	}
	nss, next, err := n.s.listNamespaces(ctx, callerOf(ctx), size, req.GetPageToken())
	if err != nil {
		return nil, n.s.toStatus(ctx, err)
	}
	out := &authv1.NamespacesServiceListResponse{NextPageToken: next}
	for _, ns := range nss {
		out.Namespaces = append(out.Namespaces, &authv1.Namespace{Name: ns.Name, Created: timestamppb.New(ns.Created)})
	}
	return out, nil
}

// Get implements authv1.NamespacesServiceServer.
func (n *namespacesServer) Get(ctx context.Context, req *authv1.NamespacesServiceGetRequest) (*authv1.NamespacesServiceGetResponse, error) {
	var c checker
	if req.GetName() == "" {
		c.Addf("name", "is required")
	}
	c.namespace("name", req.GetName())
	if err := c.Err(); err != nil {
		return nil, n.s.toStatus(ctx, err)
	}
	ns, err := n.s.getNamespace(ctx, callerOf(ctx), req.GetName())
	if err != nil {
		return nil, n.s.toStatus(ctx, err)
	}
	return &authv1.NamespacesServiceGetResponse{Namespace: &authv1.Namespace{Name: ns.Name, Created: timestamppb.New(ns.Created)}}, nil
}

// mayListNamespaces admits admins of micro and core services.
func mayListNamespaces(p principal, what string) error {
	if p.platformAdmin() || p.core() {
		return nil
	}
	if !p.account() {
		return ErrUnauthenticated
	}
	return p.deny("%s: only admins of %q do", what, rules.PlatformNamespace)
}

// getNamespace returns the namespace name to those who may list the
// namespaces: the runtime asks before it records an admin's quota.
func (s *Service) getNamespace(ctx context.Context, p principal, name string) (Namespace, error) {
	if err := mayListNamespaces(p, "read a namespace"); err != nil {
		return Namespace{}, err
	}
	var rec namespaceRecord
	if _, err := s.kv.GetJSON(ctx, tableNamespaces, name, &rec); err != nil {
		if errors.Is(err, ErrNotFound) {
			return Namespace{}, fmt.Errorf("namespace %q does not exist: %w", name, ErrNotFound)
		}
		return Namespace{}, err
	}
	return Namespace{Name: name, Created: rec.Created}, nil
}

// listNamespaces returns a page of the namespaces, by name, to admins of
// micro and to core services: the runtime lists them with their quotas.
func (s *Service) listNamespaces(ctx context.Context, p principal, size uint32, token string) ([]Namespace, string, error) {
	if err := mayListNamespaces(p, "list the namespaces"); err != nil {
		return nil, "", err
	}
	storeToken, err := decodePageToken(namespacesToken, token)
	if err != nil {
		return nil, "", err
	}
	recs, next, err := s.kv.Scan(ctx, tableNamespaces, storeclient.ScanOptions{Limit: size, PageToken: storeToken})
	if errors.Is(err, storeclient.ErrRefused) {
		return nil, "", invalid.Field("page_token", "is not a page token of the namespaces list")
	}
	if err != nil {
		return nil, "", err
	}
	out := make([]Namespace, 0, len(recs))
	for _, r := range recs {
		var rec namespaceRecord
		if err := storeclient.DecodeJSON(r.Value, &rec); err != nil {
			return nil, "", err
		}
		out = append(out, Namespace{Name: r.Key, Created: rec.Created})
	}
	return out, encodePageToken(namespacesToken, next), nil
}
