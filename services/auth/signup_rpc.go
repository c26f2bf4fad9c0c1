package auth

import (
	"context"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	authv1 "m3o.dev/proto/m3o/auth/v1"
)

// signupServer serves m3o.auth.v1.SignupService. Every method is public:
// the caller has no account yet, and the sign-up token is what it holds.
type signupServer struct {
	authv1.UnimplementedSignupServiceServer
	s *Service
}

// SendVerificationEmail implements authv1.SignupServiceServer.
func (g *signupServer) SendVerificationEmail(ctx context.Context, req *authv1.SendVerificationEmailRequest) (*authv1.SendVerificationEmailResponse, error) {
	email := strings.ToLower(req.GetEmail())
	if err := validateEmail(email); err != nil {
		return nil, g.s.toStatus(ctx, err)
	}
	expiry, err := g.s.sendCode(ctx, email)
	if err != nil {
		return nil, g.s.toStatus(ctx, err)
	}
	return &authv1.SendVerificationEmailResponse{Expiry: timestamppb.New(expiry)}, nil
}

// Verify implements authv1.SignupServiceServer.
func (g *signupServer) Verify(ctx context.Context, req *authv1.VerifyRequest) (*authv1.VerifyResponse, error) {
	email := strings.ToLower(req.GetEmail())
	if err := validateVerify(email, req.GetCode()); err != nil {
		return nil, g.s.toStatus(ctx, err)
	}
	token, expiry, err := g.s.verifyCode(ctx, email, req.GetCode())
	if err != nil {
		return nil, g.s.toStatus(ctx, err)
	}
	return &authv1.VerifyResponse{SignupToken: token, Expiry: timestamppb.New(expiry)}, nil
}

// StartPayment implements authv1.SignupServiceServer.
func (g *signupServer) StartPayment(ctx context.Context, req *authv1.StartPaymentRequest) (*authv1.StartPaymentResponse, error) {
	if err := validateSignupToken(req.GetSignupToken()); err != nil {
		return nil, g.s.toStatus(ctx, err)
	}
	url, err := g.s.startPayment(ctx, req.GetSignupToken())
	if err != nil {
		return nil, g.s.toStatus(ctx, err)
	}
	return &authv1.StartPaymentResponse{SubscribeUrl: url}, nil
}

// PaymentStatus implements authv1.SignupServiceServer.
func (g *signupServer) PaymentStatus(ctx context.Context, req *authv1.PaymentStatusRequest) (*authv1.PaymentStatusResponse, error) {
	if err := validateSignupToken(req.GetSignupToken()); err != nil {
		return nil, g.s.toStatus(ctx, err)
	}
	ready, url, err := g.s.paymentStatus(ctx, req.GetSignupToken())
	if err != nil {
		return nil, g.s.toStatus(ctx, err)
	}
	return &authv1.PaymentStatusResponse{PaymentMethodReady: ready, SubscribeUrl: url}, nil
}

// CompleteSignup implements authv1.SignupServiceServer.
func (g *signupServer) CompleteSignup(ctx context.Context, req *authv1.CompleteSignupRequest) (*authv1.CompleteSignupResponse, error) {
	if err := validateCompleteSignup(req); err != nil {
		return nil, g.s.toStatus(ctx, err)
	}
	issued, err := g.s.completeSignup(ctx, req.GetSignupToken(), req.GetSecret())
	if err != nil {
		return nil, g.s.toStatus(ctx, err)
	}
	tokens := issuedProto(issued)
	return &authv1.CompleteSignupResponse{Account: tokens.GetAccount(), Namespace: issued.Account.Namespace, Token: tokens.GetToken()}, nil
}
