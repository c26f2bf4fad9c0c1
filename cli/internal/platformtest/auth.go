package platformtest

import (
	"context"
	"sort"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	authv1 "m3o.dev/proto/m3o/auth/v1"
)

// timestamp converts t for a message.
func timestamp(t time.Time) *timestamppb.Timestamp {
	return timestamppb.New(t)
}

// account describes an account of the platform's one namespace.
func account(name string) *authv1.Account {
	return &authv1.Account{
		Id:        "id-" + name,
		Name:      name,
		Namespace: Namespace,
		Type:      authv1.AccountType_ACCOUNT_TYPE_USER,
		Roles:     []string{"admin"},
		Status:    authv1.AccountStatus_ACCOUNT_STATUS_ACTIVE,
		Created:   timestamp(time.Unix(1700000000, 0)),
	}
}

// authService issues, inspects and revokes tokens.
type authService struct {
	authv1.UnimplementedAuthServiceServer
	p *Platform
}

// Token implements authv1.AuthServiceServer.
func (s *authService) Token(_ context.Context, req *authv1.TokenRequest) (*authv1.TokenResponse, error) {
	p := s.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if req.GetRefreshToken() != "" {
		if req.GetRefreshToken() != p.refresh {
			return nil, status.Error(codes.Unauthenticated, "refresh token already used or revoked")
		}
		p.refreshes++
		return &authv1.TokenResponse{Token: p.issue(), Account: account(Username)}, nil
	}
	ns := req.GetNamespace()
	if secret, ok := p.secrets[req.GetId()]; !ok || secret != req.GetSecret() || (ns != "" && ns != Namespace) {
		return nil, status.Error(codes.Unauthenticated, "wrong name or secret")
	}
	return &authv1.TokenResponse{Token: p.issue(), Account: account(req.GetId())}, nil
}

// ResetCode is the code every password reset of the stand-in mails.
const ResetCode = "24681357"

// SendPasswordReset implements authv1.AuthServiceServer; no mail goes out,
// and the code is ResetCode.
func (s *authService) SendPasswordReset(context.Context, *authv1.SendPasswordResetRequest) (*authv1.SendPasswordResetResponse, error) {
	return &authv1.SendPasswordResetResponse{Expiry: timestamp(time.Now().Add(time.Hour))}, nil
}

// ResetPassword implements authv1.AuthServiceServer: ResetCode sets the
// password of the account the email names and logs it in.
func (s *authService) ResetPassword(_ context.Context, req *authv1.ResetPasswordRequest) (*authv1.ResetPasswordResponse, error) {
	p := s.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.secrets[req.GetEmail()]; !ok || req.GetCode() != ResetCode {
		return nil, status.Error(codes.Unauthenticated, "the code is wrong or has expired")
	}
	p.secrets[req.GetEmail()] = req.GetNewSecret()
	return &authv1.ResetPasswordResponse{Token: p.issue(), Account: account(req.GetEmail())}, nil
}

// Inspect implements authv1.AuthServiceServer.
func (s *authService) Inspect(_ context.Context, req *authv1.InspectRequest) (*authv1.InspectResponse, error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	if !s.p.access[req.GetToken()] {
		return nil, status.Error(codes.Unauthenticated, "token not valid")
	}
	return &authv1.InspectResponse{Account: account(Username), Expiry: timestamp(time.Now().Add(s.p.accessTTL))}, nil
}

// Revoke implements authv1.AuthServiceServer.
func (s *authService) Revoke(_ context.Context, req *authv1.RevokeRequest) (*authv1.RevokeResponse, error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	s.p.revoked = append(s.p.revoked, req.GetRefreshToken())
	if req.GetRefreshToken() == s.p.refresh {
		s.p.refresh = ""
	}
	return &authv1.RevokeResponse{}, nil
}

// accountsService manages accounts.
type accountsService struct {
	authv1.UnimplementedAccountsServiceServer
	p *Platform
}

// Create implements authv1.AccountsServiceServer.
func (s *accountsService) Create(_ context.Context, req *authv1.CreateRequest) (*authv1.CreateResponse, error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	if _, ok := s.p.secrets[req.GetName()]; ok {
		return nil, status.Errorf(codes.AlreadyExists, "account %q already exists", req.GetName())
	}
	s.p.secrets[req.GetName()] = req.GetSecret()
	acc := account(req.GetName())
	acc.Roles = req.GetRoles()
	return &authv1.CreateResponse{Account: acc}, nil
}

// List implements authv1.AccountsServiceServer. It returns one account per
// page, so that the CLI's paging is exercised.
func (s *accountsService) List(_ context.Context, req *authv1.ListRequest) (*authv1.ListResponse, error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	var names []string
	for name := range s.p.secrets {
		names = append(names, name)
	}
	sort.Strings(names)
	i := sort.SearchStrings(names, req.GetPageToken())
	if i >= len(names) {
		return &authv1.ListResponse{}, nil
	}
	resp := &authv1.ListResponse{Accounts: []*authv1.Account{account(names[i])}}
	if i+1 < len(names) {
		resp.NextPageToken = names[i+1]
	}
	return resp, nil
}

// Delete implements authv1.AccountsServiceServer.
func (s *accountsService) Delete(_ context.Context, req *authv1.DeleteRequest) (*authv1.DeleteResponse, error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	if _, ok := s.p.secrets[req.GetId()]; !ok {
		return nil, status.Errorf(codes.NotFound, "no account %q", req.GetId())
	}
	delete(s.p.secrets, req.GetId())
	return &authv1.DeleteResponse{}, nil
}

// Disable implements authv1.AccountsServiceServer.
func (s *accountsService) Disable(_ context.Context, req *authv1.DisableRequest) (*authv1.DisableResponse, error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	if _, ok := s.p.secrets[req.GetId()]; !ok {
		return nil, status.Errorf(codes.NotFound, "no account %q", req.GetId())
	}
	s.p.disabled[req.GetId()] = true
	return &authv1.DisableResponse{}, nil
}

// Enable implements authv1.AccountsServiceServer.
func (s *accountsService) Enable(_ context.Context, req *authv1.EnableRequest) (*authv1.EnableResponse, error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	if _, ok := s.p.secrets[req.GetId()]; !ok {
		return nil, status.Errorf(codes.NotFound, "no account %q", req.GetId())
	}
	delete(s.p.disabled, req.GetId())
	return &authv1.EnableResponse{Account: account(req.GetId())}, nil
}

// ChangeSecret implements authv1.AccountsServiceServer: the logged-in
// admin changes its own secret with the old one, which revokes its refresh
// token, and any other account's without.
func (s *accountsService) ChangeSecret(_ context.Context, req *authv1.ChangeSecretRequest) (*authv1.ChangeSecretResponse, error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	id := req.GetId()
	old, ok := s.p.secrets[id]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no account %q", id)
	}
	if id == Username {
		if old != req.GetOldSecret() {
			return nil, status.Error(codes.PermissionDenied, "old secret does not match")
		}
		s.p.refresh = ""
	}
	s.p.secrets[id] = req.GetNewSecret()
	return &authv1.ChangeSecretResponse{}, nil
}

// rulesService manages rules.
type rulesService struct {
	authv1.UnimplementedRulesServiceServer
	p *Platform
}

// builtinRule is a built-in rule of the platform, as auth lists it in
// every namespace.
var builtinRule = &authv1.Rule{
	Id:          "builtin-micro-admin",
	Namespace:   "micro",
	Scope:       "admin",
	Resource:    &authv1.Resource{Type: "*", Name: "*", Endpoint: "*"},
	Access:      authv1.Access_ACCESS_GRANT,
	Priority:    2147483647,
	Builtin:     true,
	Description: "Platform rule: the admins of namespace \"micro\" may call everything.",
}

// namespaceRule is the rule every namespace starts with.
var namespaceRule = &authv1.Rule{
	Id:          "namespace-accounts",
	Namespace:   Namespace,
	Scope:       "*",
	Resource:    &authv1.Resource{Type: "*", Name: "*", Endpoint: "*"},
	Access:      authv1.Access_ACCESS_GRANT,
	Description: "Any account of the namespace may call everything in it.",
}

// Create implements authv1.RulesServiceServer.
func (s *rulesService) Create(_ context.Context, req *authv1.RulesServiceCreateRequest) (*authv1.RulesServiceCreateResponse, error) {
	r := req.GetRule()
	if r.GetId() == "" {
		r.Id = "rule-1"
	}
	r.Namespace = Namespace
	return &authv1.RulesServiceCreateResponse{Rule: r}, nil
}

// Delete implements authv1.RulesServiceServer.
func (s *rulesService) Delete(_ context.Context, req *authv1.RulesServiceDeleteRequest) (*authv1.RulesServiceDeleteResponse, error) {
	if req.GetId() == builtinRule.GetId() {
		return nil, status.Error(codes.FailedPrecondition, "built-in rules cannot be deleted")
	}
	return &authv1.RulesServiceDeleteResponse{}, nil
}

// List implements authv1.RulesServiceServer.
func (s *rulesService) List(context.Context, *authv1.RulesServiceListRequest) (*authv1.RulesServiceListResponse, error) {
	return &authv1.RulesServiceListResponse{Rules: []*authv1.Rule{builtinRule, namespaceRule}}, nil
}

// Explain implements authv1.RulesServiceServer.
func (s *rulesService) Explain(context.Context, *authv1.ExplainRequest) (*authv1.ExplainResponse, error) {
	return &authv1.ExplainResponse{Access: authv1.Access_ACCESS_GRANT, Rule: namespaceRule, Reason: "Accounts of the namespace may call everything in it."}, nil
}
