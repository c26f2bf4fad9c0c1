package auth

import (
	"context"
	"errors"
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

// listNamespaces returns a page of the namespaces, by name, to admins of
// micro and to core services: the runtime lists them with their quotas.
func (s *Service) listNamespaces(ctx context.Context, p principal, size uint32, token string) ([]Namespace, string, error) {
	if !p.platformAdmin() && !p.core() {
		if !p.account() {
			return nil, "", ErrUnauthenticated
		}
		return nil, "", p.deny("list the namespaces: only admins of %q do", rules.PlatformNamespace)
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
