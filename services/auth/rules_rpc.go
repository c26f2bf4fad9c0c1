package auth

import (
	"context"

	"m3o.dev/pkg/rules"
	authv1 "m3o.dev/proto/m3o/auth/v1"
)

// rulesServer serves m3o.auth.v1.RulesService.
type rulesServer struct {
	authv1.UnimplementedRulesServiceServer
	s *Service
}

// Create implements authv1.RulesServiceServer.
func (r *rulesServer) Create(ctx context.Context, req *authv1.RulesServiceCreateRequest) (*authv1.RulesServiceCreateResponse, error) {
	if err := validateRule(req.GetRule()); err != nil {
		return nil, r.s.toStatus(ctx, err)
	}
	rule, err := r.s.createRule(ctx, callerOf(ctx), rules.FromProto(req.GetRule()))
	if err != nil {
		return nil, r.s.toStatus(ctx, err)
	}
	return &authv1.RulesServiceCreateResponse{Rule: rules.ToProto(rule)}, nil
}

// Delete implements authv1.RulesServiceServer.
func (r *rulesServer) Delete(ctx context.Context, req *authv1.RulesServiceDeleteRequest) (*authv1.RulesServiceDeleteResponse, error) {
	if err := validateRulesDelete(req); err != nil {
		return nil, r.s.toStatus(ctx, err)
	}
	if err := r.s.deleteRule(ctx, callerOf(ctx), req.GetNamespace(), req.GetId()); err != nil {
		return nil, r.s.toStatus(ctx, err)
	}
	return &authv1.RulesServiceDeleteResponse{}, nil
}

// List implements authv1.RulesServiceServer.
func (r *rulesServer) List(ctx context.Context, req *authv1.RulesServiceListRequest) (*authv1.RulesServiceListResponse, error) {
	if err := validateRulesList(req); err != nil {
		return nil, r.s.toStatus(ctx, err)
	}
	list, err := r.s.listRules(ctx, callerOf(ctx), req.GetNamespace())
	if err != nil {
		return nil, r.s.toStatus(ctx, err)
	}
	out := &authv1.RulesServiceListResponse{}
	for _, rule := range list {
		out.Rules = append(out.Rules, rules.ToProto(rule))
	}
	return out, nil
}

// Explain implements authv1.RulesServiceServer.
func (r *rulesServer) Explain(ctx context.Context, req *authv1.ExplainRequest) (*authv1.ExplainResponse, error) {
	if err := validateExplain(req); err != nil {
		return nil, r.s.toStatus(ctx, err)
	}
	d, err := r.s.explain(ctx, callerOf(ctx), req.GetNamespace(), req.GetAccount(), rules.ResourceFromProto(req.GetResource()))
	if err != nil {
		return nil, r.s.toStatus(ctx, err)
	}
	out := &authv1.ExplainResponse{Access: rules.AccessToProto(d.Access), Reason: d.Reason()}
	if d.Rule != nil {
		out.Rule = rules.ToProto(*d.Rule)
	}
	return out, nil
}
