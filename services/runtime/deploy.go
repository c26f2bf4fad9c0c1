package runtime

import (
	"context"
	"crypto/rand"
	"fmt"
	"maps"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/service"
	authv1 "m3o.dev/proto/m3o/auth/v1"
)

// serviceRole is the role of a service account.
const serviceRole = "service"

// deploy hands the record's generation to the backend, with the service
// account it runs as, creating that account first if the service has
// none. A namespace that must pay gets its record only: the
// reconciliation starts the service once payment resumes.
func (s *Service) deploy(ctx context.Context, rec record) (record, Rollout, error) {
	if _, unpaid := s.unpaid(rec.Namespace); unpaid {
		return rec, Rollout{}, nil
	}
	rec, err := s.ensureAccount(ctx, rec)
	if err != nil {
		return rec, Rollout{}, err
	}
	p, err := s.planFor(ctx, rec.Namespace, rec.Name, nil)
	if err != nil {
		return rec, Rollout{}, err
	}
	d := Deployment{
		Ref: rec.ref(), Generation: rec.Generation, Version: rec.Version,
		Source: s.sourceOf(rec), Env: s.env(rec),
		Instances: rec.Options.Instances, Resources: rec.Options.Resources,
		Quota: p.quota, Surge: p.surge(rec.Options),
	}
	ro, err := s.backend.Apply(ctx, d)
	if err != nil {
		return rec, Rollout{}, fmt.Errorf("deploy %s generation %d: %w", rec.ref(), rec.Generation, err)
	}
	return rec, ro, nil
}

// sourceOf is where the record's generation builds from.
func (s *Service) sourceOf(rec record) Source {
	if rec.Resolved != "" {
		return storedSource{s: s, ns: rec.Namespace, id: rec.Resolved}
	}
	return gitRepoSource{s: s, rec: rec}
}

// env is the deployment's environment: the developer's variables, sorted,
// then the proxy's address and the service account.
func (s *Service) env(rec record) []string {
	var env []string
	for _, k := range slices.Sorted(maps.Keys(rec.Options.Env)) {
		env = append(env, k+"="+rec.Options.Env[k])
	}
	return append(env,
		service.EnvProxy+"="+s.opts.ProxyAddress,
		service.EnvAccountID+"="+rec.AccountID,
		service.EnvAccountSecret+"="+rec.AccountSecret,
	)
}

// resolve records id as the stored source of rec's generation, unless the
// service moved on, and prunes the service's older sources.
func (s *Service) resolve(ctx context.Context, rec record, id string) error {
	fresh, err := s.records.update(ctx, rec.ref(), func(r *record) error {
		if r.Generation == rec.Generation && r.Resolved == "" {
			r.Resolved = id
		}
		return nil
	})
	if err != nil {
		return err
	}
	return s.sources.prune(ctx, rec.Namespace, rec.Name, append(fresh.keptSources(), id)...)
}

// accountName is the name of a service's account in its namespace.
func accountName(service string) string { return "service-" + service }

// ensureAccount gives the service an account if it has none: a service
// account (type service, role service) in its namespace, with a fresh
// secret kept in the record.
func (s *Service) ensureAccount(ctx context.Context, rec record) (record, error) {
	if rec.AccountID != "" {
		return rec, nil
	}
	secret := rand.Text() + rand.Text()
	id, err := s.account(ctx, rec.ref(), secret)
	if err != nil {
		return rec, err
	}
	return s.records.update(ctx, rec.ref(), func(r *record) error {
		r.AccountID, r.AccountSecret = id, secret
		return nil
	})
}

// account creates the service's account with secret, or, when one is
// left from before (a create that failed halfway), sets its secret, and
// returns its id.
func (s *Service) account(ctx context.Context, ref Ref, secret string) (string, error) {
	resp, err := s.opts.Accounts.Create(ctx, &authv1.CreateRequest{
		Namespace: ref.Namespace, Name: accountName(ref.Name), Secret: secret,
		Type: authv1.AccountType_ACCOUNT_TYPE_SERVICE, Roles: []string{serviceRole},
	})
	switch status.Code(err) {
	case codes.OK:
		return resp.GetAccount().GetId(), nil
	case codes.PermissionDenied:
		// Auth refuses the runtime a namespace that does not exist yet.
		return "", fmt.Errorf("namespace %q has no accounts yet; create one first: %w", ref.Namespace, ErrNotFound)
	case codes.AlreadyExists:
	default:
		return "", authError("create the service account", err)
	}
	_, err = s.opts.Accounts.ChangeSecret(ctx, &authv1.ChangeSecretRequest{Namespace: ref.Namespace, Id: accountName(ref.Name), NewSecret: secret})
	if status.Code(err) == codes.PermissionDenied {
		return "", fmt.Errorf("the account name %q is taken by an account that is not this service's: %w", accountName(ref.Name), ErrAlreadyExists)
	}
	if err != nil {
		return "", authError("reset the service account", err)
	}
	got, err := s.opts.Accounts.Get(ctx, &authv1.GetRequest{Namespace: ref.Namespace, Id: accountName(ref.Name)})
	if err != nil {
		return "", authError("read the service account", err)
	}
	return got.GetAccount().GetId(), nil
}

// dropAccount deletes the service's account; a failure is logged, since
// the service is gone either way.
func (s *Service) dropAccount(ctx context.Context, rec record) {
	_, err := s.opts.Accounts.Delete(ctx, &authv1.DeleteRequest{Namespace: rec.Namespace, Id: accountName(rec.Name)})
	if err != nil && status.Code(err) != codes.NotFound {
		s.log.WarnContext(ctx, "delete a service account", "namespace", rec.Namespace, "service", rec.Name, "error", err)
	}
}

// authError decides what an error of the auth service means here.
func authError(what string, err error) error {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded:
		return fmt.Errorf("%s: %v: %w", what, err, ErrUnavailable)
	}
	return fmt.Errorf("%s: auth answered %v", what, err)
}
