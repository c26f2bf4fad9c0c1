package platformtest

import (
	"context"
	"crypto/rand"
	"maps"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	authv1 "m3o.dev/proto/m3o/auth/v1"
)

// What the stand-in's sign-up knows.
const (
	// SignupCode is the one code Verify takes.
	SignupCode = "12345678"
	// SignupNamespace is the namespace every sign-up gets.
	SignupNamespace = "brave-otter-lamp"
	// SubscribeURL is the subscribe page StartPayment returns.
	SubscribeURL = "https://m3o.test/subscribe?session=ps_test"
	// PaymentPolls is how many PaymentStatus calls answer "not yet" before
	// the card is in place.
	PaymentPolls = 1
)

// signupService mails no code: any email may verify with SignupCode.
type signupService struct {
	authv1.UnimplementedSignupServiceServer
	p *Platform
}

// SendVerificationEmail implements authv1.SignupServiceServer.
func (s *signupService) SendVerificationEmail(_ context.Context, req *authv1.SendVerificationEmailRequest) (*authv1.SendVerificationEmailResponse, error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	s.p.codesSent = append(s.p.codesSent, req.GetEmail())
	return &authv1.SendVerificationEmailResponse{Expiry: timestamp(time.Now().Add(time.Hour))}, nil
}

// Verify implements authv1.SignupServiceServer.
func (s *signupService) Verify(_ context.Context, req *authv1.VerifyRequest) (*authv1.VerifyResponse, error) {
	if req.GetCode() != SignupCode {
		return nil, status.Error(codes.Unauthenticated, "the code is wrong or has expired")
	}
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	s.p.signupToken = "signup-" + rand.Text()
	return &authv1.VerifyResponse{SignupToken: s.p.signupToken, Expiry: timestamp(time.Now().Add(time.Hour))}, nil
}

// token checks a sign-up token.
func (s *signupService) token(token string) error {
	if token == "" || token != s.p.signupToken {
		return status.Error(codes.Unauthenticated, "the sign-up token is invalid or has expired")
	}
	return nil
}

// StartPayment implements authv1.SignupServiceServer.
func (s *signupService) StartPayment(_ context.Context, req *authv1.StartPaymentRequest) (*authv1.StartPaymentResponse, error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	if err := s.token(req.GetSignupToken()); err != nil {
		return nil, err
	}
	return &authv1.StartPaymentResponse{SubscribeUrl: SubscribeURL}, nil
}

// PaymentStatus implements authv1.SignupServiceServer.
func (s *signupService) PaymentStatus(_ context.Context, req *authv1.PaymentStatusRequest) (*authv1.PaymentStatusResponse, error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	if err := s.token(req.GetSignupToken()); err != nil {
		return nil, err
	}
	s.p.paymentPolls++
	return &authv1.PaymentStatusResponse{PaymentMethodReady: s.p.paymentPolls > PaymentPolls, SubscribeUrl: SubscribeURL}, nil
}

// CompleteSignup implements authv1.SignupServiceServer.
func (s *signupService) CompleteSignup(_ context.Context, req *authv1.CompleteSignupRequest) (*authv1.CompleteSignupResponse, error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	if err := s.token(req.GetSignupToken()); err != nil {
		return nil, err
	}
	if s.p.paymentPolls <= PaymentPolls {
		return nil, status.Error(codes.FailedPrecondition, "no payment method is in place yet")
	}
	s.p.signupToken = ""
	s.p.signupSecrets = append(s.p.signupSecrets, req.GetSecret())
	acc := account("ann@example.com")
	acc.Namespace, acc.Roles = SignupNamespace, []string{"admin", "developer"}
	return &authv1.CompleteSignupResponse{Account: acc, Namespace: SignupNamespace, Token: s.p.issue()}, nil
}

// CodesSent returns the emails codes were asked for, in order.
func (p *Platform) CodesSent() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.codesSent)
}

// SignupSecrets returns the secrets sign-ups completed with.
func (p *Platform) SignupSecrets() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.signupSecrets)
}

// inviteService keeps the allowlist.
type inviteService struct {
	authv1.UnimplementedInviteServiceServer
	p *Platform
}

// Add implements authv1.InviteServiceServer.
func (s *inviteService) Add(_ context.Context, req *authv1.InviteServiceAddRequest) (*authv1.InviteServiceAddResponse, error) {
	email := strings.ToLower(req.GetEmail())
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	if inv, ok := s.p.invites[email]; ok && req.GetResend() {
		return &authv1.InviteServiceAddResponse{Invite: inv}, nil
	} else if ok {
		return nil, status.Errorf(codes.AlreadyExists, "%q is already invited", email)
	}
	inv := &authv1.Invite{Email: email, Created: timestamp(time.Unix(1700000000, 0)), CreatedBy: Username}
	s.p.invites[email] = inv
	return &authv1.InviteServiceAddResponse{Invite: inv}, nil
}

// Remove implements authv1.InviteServiceServer.
func (s *inviteService) Remove(_ context.Context, req *authv1.InviteServiceRemoveRequest) (*authv1.InviteServiceRemoveResponse, error) {
	email := strings.ToLower(req.GetEmail())
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	if _, ok := s.p.invites[email]; !ok {
		return nil, status.Errorf(codes.NotFound, "%q is not invited", email)
	}
	delete(s.p.invites, email)
	return &authv1.InviteServiceRemoveResponse{}, nil
}

// List implements authv1.InviteServiceServer.
func (s *inviteService) List(context.Context, *authv1.InviteServiceListRequest) (*authv1.InviteServiceListResponse, error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	out := &authv1.InviteServiceListResponse{}
	for _, email := range slices.Sorted(maps.Keys(s.p.invites)) {
		out.Invites = append(out.Invites, s.p.invites[email])
	}
	return out, nil
}
