package auth

import (
	"context"
	"slices"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"m3o.dev/pkg/rules"
	authv1 "m3o.dev/proto/m3o/auth/v1"
)

// WatchPublicKeys implements authv1.AuthServiceServer. It sends what
// PublicKeys answers, then again whenever that changes, until the caller
// goes or this replica stops.
func (a *authServer) WatchPublicKeys(_ *authv1.WatchPublicKeysRequest, stream grpc.ServerStreamingServer[authv1.WatchPublicKeysResponse]) error {
	ctx := stream.Context()
	var last *authv1.PublicKeysResponse
	for {
		wake := a.s.tokenWatch.wait()
		if cur := a.s.publicKeys(); !proto.Equal(cur, last) {
			if err := stream.Send(&authv1.WatchPublicKeysResponse{Current: cur}); err != nil {
				return err
			}
			last = cur
		}
		select {
		case <-ctx.Done():
			return nil
		case <-a.s.stopping:
			return a.s.toStatus(ctx, errStopping)
		case <-wake:
		}
	}
}

// Watch implements authv1.RulesServiceServer.
func (r *rulesServer) Watch(req *authv1.RulesServiceWatchRequest, stream grpc.ServerStreamingServer[authv1.RulesServiceWatchResponse]) error {
	ctx := stream.Context()
	if err := validateRulesWatch(req); err != nil {
		return r.s.toStatus(ctx, err)
	}
	w, err := r.s.watchRules(callerOf(ctx), req.GetNamespace(), req.GetAllNamespaces())
	if err != nil {
		return r.s.toStatus(ctx, err)
	}
	defer w.close()
	if err := w.run(ctx, stream.Send); err != nil {
		return r.s.toStatus(ctx, err)
	}
	return nil
}

// rulesWatch is one RulesService.Watch call.
type rulesWatch struct {
	s     *Service
	ns    string // the namespace watched, unless all
	all   bool
	sub   *ruleSub
	close func()
	last  *authv1.RulesServiceWatchResponse
}

// watchRules starts a watch of namespace's rules for p, or of every
// namespace's, which only core services may.
func (s *Service) watchRules(p principal, namespace string, all bool) (*rulesWatch, error) {
	w := &rulesWatch{s: s, all: all}
	if all && !p.core() {
		return nil, p.deny("watch the rules of every namespace: only core services do")
	}
	if !all {
		ns, err := p.target(namespace)
		if err != nil {
			return nil, err
		}
		if !p.mayReadRules(ns) {
			return nil, p.deny("read the rules of namespace %q", ns)
		}
		w.ns = ns
	}
	w.sub, w.close = s.ruleWatch.subscribe()
	return w, nil
}

// run sends what the watch is for, then each change, until ctx ends or the
// replica stops.
func (w *rulesWatch) run(ctx context.Context, send func(*authv1.RulesServiceWatchResponse) error) error {
	if err := w.deliver(ctx, send, nil, true); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-w.s.stopping:
			return errStopping
		case <-w.sub.wake:
		}
		namespaces, resync := w.sub.take()
		if err := w.deliver(ctx, send, namespaces, resync); err != nil {
			return err
		}
	}
}

// deliver sends what changed: for a watch of every namespace, a resync
// when one is due and the rules of each namespace changed; for a watch of
// one, its rules when they changed.
func (w *rulesWatch) deliver(ctx context.Context, send func(*authv1.RulesServiceWatchResponse) error, namespaces []string, resync bool) error {
	if !w.all {
		if !resync && !slices.Contains(namespaces, w.ns) {
			return nil
		}
		namespaces = []string{w.ns}
	} else if resync {
		if err := send(&authv1.RulesServiceWatchResponse{Resync: true}); err != nil {
			return err
		}
	}
	for _, ns := range namespaces {
		if err := w.sendRules(ctx, send, ns); err != nil {
			return err
		}
	}
	return nil
}

// sendRules sends the rules of ns, unless a watch of ns alone already
// sent the very same.
func (w *rulesWatch) sendRules(ctx context.Context, send func(*authv1.RulesServiceWatchResponse) error, ns string) error {
	list, err := w.s.rulesOf(ctx, ns)
	if err != nil {
		return err
	}
	msg := &authv1.RulesServiceWatchResponse{Namespace: ns}
	for _, r := range list {
		msg.Rules = append(msg.Rules, rules.ToProto(r))
	}
	if !w.all && proto.Equal(msg, w.last) {
		return nil
	}
	w.last = msg
	return send(msg)
}
