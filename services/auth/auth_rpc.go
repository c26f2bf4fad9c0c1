package auth

import (
	"context"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	authv1 "m3o.dev/proto/m3o/auth/v1"
)

// authServer serves m3o.auth.v1.AuthService.
type authServer struct {
	authv1.UnimplementedAuthServiceServer
	s *Service
}

// Token implements authv1.AuthServiceServer.
func (a *authServer) Token(ctx context.Context, req *authv1.TokenRequest) (*authv1.TokenResponse, error) {
	if err := validateToken(req); err != nil {
		return nil, a.s.toStatus(ctx, err)
	}
	ttl := a.s.cfg.AccessTTL
	if req.GetTtlSeconds() > 0 {
		ttl = time.Duration(req.GetTtlSeconds()) * time.Second
	}
	var issued Issued
	var err error
	if req.GetRefreshToken() != "" {
		issued, err = a.s.refresh(ctx, req.GetRefreshToken(), ttl)
	} else {
		issued, err = a.s.loginAnywhere(ctx, req.GetNamespace(), req.GetId(), req.GetSecret(), ttl)
	}
	if err != nil {
		return nil, a.s.toStatus(ctx, err)
	}
	return issuedProto(issued), nil
}

// SendPasswordReset implements authv1.AuthServiceServer.
func (a *authServer) SendPasswordReset(ctx context.Context, req *authv1.SendPasswordResetRequest) (*authv1.SendPasswordResetResponse, error) {
	email := strings.ToLower(req.GetEmail())
	if err := validateSendPasswordReset(email, req.GetNamespace()); err != nil {
		return nil, a.s.toStatus(ctx, err)
	}
	expiry, err := a.s.sendReset(ctx, email, req.GetNamespace())
	if err != nil {
		return nil, a.s.toStatus(ctx, err)
	}
	return &authv1.SendPasswordResetResponse{Expiry: timestamppb.New(expiry)}, nil
}

// ResetPassword implements authv1.AuthServiceServer.
func (a *authServer) ResetPassword(ctx context.Context, req *authv1.ResetPasswordRequest) (*authv1.ResetPasswordResponse, error) {
	email := strings.ToLower(req.GetEmail())
	if err := validateResetPassword(email, req); err != nil {
		return nil, a.s.toStatus(ctx, err)
	}
	issued, err := a.s.resetPassword(ctx, email, req.GetNamespace(), req.GetCode(), req.GetNewSecret(), a.s.cfg.AccessTTL)
	if err != nil {
		return nil, a.s.toStatus(ctx, err)
	}
	tokens := issuedProto(issued)
	return &authv1.ResetPasswordResponse{Token: tokens.GetToken(), Account: tokens.GetAccount()}, nil
}

// Inspect implements authv1.AuthServiceServer.
func (a *authServer) Inspect(ctx context.Context, req *authv1.InspectRequest) (*authv1.InspectResponse, error) {
	if err := validateInspect(req); err != nil {
		return nil, a.s.toStatus(ctx, err)
	}
	acct, expiry, err := a.s.inspect(ctx, callerOf(ctx), req.GetToken())
	if err != nil {
		return nil, a.s.toStatus(ctx, err)
	}
	return &authv1.InspectResponse{Account: accountProto(acct), Expiry: timestamppb.New(expiry)}, nil
}

// Revoke implements authv1.AuthServiceServer.
func (a *authServer) Revoke(ctx context.Context, req *authv1.RevokeRequest) (*authv1.RevokeResponse, error) {
	if err := validateRevoke(req); err != nil {
		return nil, a.s.toStatus(ctx, err)
	}
	var err error
	if req.GetRefreshToken() != "" {
		err = a.s.revokeRefresh(ctx, callerOf(ctx), req.GetRefreshToken())
	} else {
		err = a.s.revokeAccount(ctx, callerOf(ctx), req.GetNamespace(), req.GetAccountId())
	}
	if err != nil {
		return nil, a.s.toStatus(ctx, err)
	}
	return &authv1.RevokeResponse{}, nil
}

// PublicKeys implements authv1.AuthServiceServer.
func (a *authServer) PublicKeys(context.Context, *authv1.PublicKeysRequest) (*authv1.PublicKeysResponse, error) {
	return a.s.publicKeys(), nil
}
