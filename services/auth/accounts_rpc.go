package auth

import (
	"context"

	authv1 "m3o.dev/proto/m3o/auth/v1"
)

// accountsServer serves m3o.auth.v1.AccountsService.
type accountsServer struct {
	authv1.UnimplementedAccountsServiceServer
	s *Service
}

// Create implements authv1.AccountsServiceServer.
func (a *accountsServer) Create(ctx context.Context, req *authv1.CreateRequest) (*authv1.CreateResponse, error) {
	if err := validateCreate(req); err != nil {
		return nil, a.s.toStatus(ctx, err)
	}
	acct, err := a.s.createAccount(ctx, callerOf(ctx), AccountSpec{
		Namespace: req.GetNamespace(), Name: req.GetName(), Secret: req.GetSecret(),
		Type: accountTypeFromProto(req.GetType()), Roles: req.GetRoles(), Metadata: req.GetMetadata(),
	})
	if err != nil {
		return nil, a.s.toStatus(ctx, err)
	}
	return &authv1.CreateResponse{Account: accountProto(acct)}, nil
}

// Get implements authv1.AccountsServiceServer.
func (a *accountsServer) Get(ctx context.Context, req *authv1.GetRequest) (*authv1.GetResponse, error) {
	if err := validateRef(req.GetNamespace(), req.GetId()); err != nil {
		return nil, a.s.toStatus(ctx, err)
	}
	acct, err := a.s.getAccount(ctx, callerOf(ctx), req.GetNamespace(), req.GetId())
	if err != nil {
		return nil, a.s.toStatus(ctx, err)
	}
	return &authv1.GetResponse{Account: accountProto(acct)}, nil
}

// List implements authv1.AccountsServiceServer.
func (a *accountsServer) List(ctx context.Context, req *authv1.ListRequest) (*authv1.ListResponse, error) {
	if err := validateList(req); err != nil {
		return nil, a.s.toStatus(ctx, err)
	}
	size := req.GetPageSize()
	if size == 0 {
		size = defaultPageSize
	}
	accts, next, err := a.s.listAccounts(ctx, callerOf(ctx), req.GetNamespace(), size, req.GetPageToken())
	if err != nil {
		return nil, a.s.toStatus(ctx, err)
	}
	out := &authv1.ListResponse{NextPageToken: next}
	for _, acct := range accts {
		out.Accounts = append(out.Accounts, accountProto(acct))
	}
	return out, nil
}

// Delete implements authv1.AccountsServiceServer.
func (a *accountsServer) Delete(ctx context.Context, req *authv1.DeleteRequest) (*authv1.DeleteResponse, error) {
	if err := validateRef(req.GetNamespace(), req.GetId()); err != nil {
		return nil, a.s.toStatus(ctx, err)
	}
	if err := a.s.deleteAccount(ctx, callerOf(ctx), req.GetNamespace(), req.GetId()); err != nil {
		return nil, a.s.toStatus(ctx, err)
	}
	return &authv1.DeleteResponse{}, nil
}

// Disable implements authv1.AccountsServiceServer.
func (a *accountsServer) Disable(ctx context.Context, req *authv1.DisableRequest) (*authv1.DisableResponse, error) {
	if err := validateRef(req.GetNamespace(), req.GetId()); err != nil {
		return nil, a.s.toStatus(ctx, err)
	}
	if err := a.s.disableAccount(ctx, callerOf(ctx), req.GetNamespace(), req.GetId()); err != nil {
		return nil, a.s.toStatus(ctx, err)
	}
	return &authv1.DisableResponse{}, nil
}

// Enable implements authv1.AccountsServiceServer.
func (a *accountsServer) Enable(ctx context.Context, req *authv1.EnableRequest) (*authv1.EnableResponse, error) {
	if err := validateRef(req.GetNamespace(), req.GetId()); err != nil {
		return nil, a.s.toStatus(ctx, err)
	}
	acct, err := a.s.enableAccount(ctx, callerOf(ctx), req.GetNamespace(), req.GetId())
	if err != nil {
		return nil, a.s.toStatus(ctx, err)
	}
	return &authv1.EnableResponse{Account: accountProto(acct)}, nil
}

// ChangeSecret implements authv1.AccountsServiceServer.
func (a *accountsServer) ChangeSecret(ctx context.Context, req *authv1.ChangeSecretRequest) (*authv1.ChangeSecretResponse, error) {
	if err := validateChangeSecret(req); err != nil {
		return nil, a.s.toStatus(ctx, err)
	}
	err := a.s.changeSecret(ctx, callerOf(ctx), req.GetNamespace(), req.GetId(), req.GetOldSecret(), req.GetNewSecret())
	if err != nil {
		return nil, a.s.toStatus(ctx, err)
	}
	return &authv1.ChangeSecretResponse{}, nil
}
