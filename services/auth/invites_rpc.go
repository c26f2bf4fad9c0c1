package auth

import (
	"context"
	"strings"

	authv1 "m3o.dev/proto/m3o/auth/v1"
)

// inviteServer serves m3o.auth.v1.InviteService.
type inviteServer struct {
	authv1.UnimplementedInviteServiceServer
	s *Service
}

// Add implements authv1.InviteServiceServer.
func (i *inviteServer) Add(ctx context.Context, req *authv1.InviteServiceAddRequest) (*authv1.InviteServiceAddResponse, error) {
	email := strings.ToLower(req.GetEmail())
	if err := validateEmail(email); err != nil {
		return nil, i.s.toStatus(ctx, err)
	}
	inv, err := i.s.addInvite(ctx, callerOf(ctx), email, req.GetResend())
	if err != nil {
		return nil, i.s.toStatus(ctx, err)
	}
	return &authv1.InviteServiceAddResponse{Invite: inviteProto(inv)}, nil
}

// Remove implements authv1.InviteServiceServer.
func (i *inviteServer) Remove(ctx context.Context, req *authv1.InviteServiceRemoveRequest) (*authv1.InviteServiceRemoveResponse, error) {
	email := strings.ToLower(req.GetEmail())
	if err := validateEmail(email); err != nil {
		return nil, i.s.toStatus(ctx, err)
	}
	if err := i.s.removeInvite(ctx, callerOf(ctx), email); err != nil {
		return nil, i.s.toStatus(ctx, err)
	}
	return &authv1.InviteServiceRemoveResponse{}, nil
}

// List implements authv1.InviteServiceServer.
func (i *inviteServer) List(ctx context.Context, _ *authv1.InviteServiceListRequest) (*authv1.InviteServiceListResponse, error) {
	invites, err := i.s.listInvites(ctx, callerOf(ctx))
	if err != nil {
		return nil, i.s.toStatus(ctx, err)
	}
	out := &authv1.InviteServiceListResponse{}
	for _, inv := range invites {
		out.Invites = append(out.Invites, inviteProto(inv))
	}
	return out, nil
}
