package runtime

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
	"m3o.dev/services/internal/invalid"
	"m3o.dev/services/runtime/source"
)

// create records a new service and hands its first generation to the
// backend. It is all or nothing: when the hand-over fails, the record
// goes again.
func (s *Service) create(ctx context.Context, ref Ref, ch change) (record, error) {
	defer s.locks.lock("ns:" + ref.Namespace)()
	defer s.locks.lock(serviceKey(ref))()
	if err := s.checkCreate(ctx, ref, ch); err != nil {
		return record{}, err
	}
	rec, err := s.records.create(ctx, newRecord(ref, ch, s.now().UTC()))
	if err != nil {
		return record{}, err
	}
	if rec, _, err = s.deploy(ctx, rec); err != nil {
		s.undoCreate(context.WithoutCancel(ctx), rec)
		return record{}, err
	}
	s.log.InfoContext(ctx, "service created", "namespace", ref.Namespace, "service", ref.Name)
	return rec, nil
}

// checkCreate refuses a service that exists, one past the namespace's
// quota, and one whose source could not be built from.
func (s *Service) checkCreate(ctx context.Context, ref Ref, ch change) error {
	if _, err := s.records.get(ctx, ref); err == nil {
		return fmt.Errorf("%s already exists: %w", describe(ref), ErrAlreadyExists)
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	p, err := s.planFor(ctx, ref.Namespace, ref.Name, ch.options)
	if err != nil {
		return err
	}
	if err := p.check(ref.Namespace); err != nil {
		return err
	}
	return s.checkSource(ctx, ref.Namespace, ch.source)
}

// newRecord is the first generation of a service.
func newRecord(ref Ref, ch change, now time.Time) record {
	rec := record{
		Namespace: ref.Namespace, Name: ref.Name, Version: ch.version, Source: ch.source,
		Metadata: ch.metadata, Options: *ch.options, Generation: 1, Created: now, Updated: now,
	}
	if !gitSource(rec.Source) {
		rec.Resolved = rec.Source
	}
	return rec
}

// undoCreate removes a service whose first deployment could not be handed
// over.
func (s *Service) undoCreate(ctx context.Context, rec record) {
	if err := s.records.remove(ctx, rec.ref()); err != nil {
		s.log.WarnContext(ctx, "remove the record of a failed create", "namespace", rec.Namespace, "service", rec.Name, "error", err)
	}
	s.dropAccount(ctx, rec)
}

// checkSource refuses a source the service could not be built from: an
// upload this namespace does not have, or a git URL the platform may not
// fetch from.
func (s *Service) checkSource(ctx context.Context, ns, src string) error {
	switch {
	case src == "":
		return nil
	case !gitSource(src):
		_, err := s.sources.meta(ctx, ns, src)
		if errors.Is(err, ErrNotFound) {
			return invalid.Field("service.source", "namespace %q keeps no source %s; reading the service by name lists the sources kept", ns, src)
		}
		return err
	}
	repo, _, err := source.ParseGitURL(src)
	if err == nil {
		err = source.CheckGitURL(ctx, repo, s.opts.Git)
	}
	return refusal(err)
}

// read returns the records a Read asks for.
func (s *Service) read(ctx context.Context, req *runtimev1.ReadRequest) ([]record, error) {
	if req.GetName() == "" {
		ns, err := target(ctx, req.GetNamespace())
		if err != nil {
			return nil, err
		}
		return s.records.list(ctx, ns)
	}
	ref, err := validateRef(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	rec, err := s.records.get(ctx, ref)
	if err != nil {
		return nil, err
	}
	return []record{rec}, nil
}

// update applies a change as the service's next generation and hands it
// to the backend, which replaces the serving generation once the new one
// runs.
func (s *Service) update(ctx context.Context, ref Ref, ch change) (record, Rollout, error) {
	defer s.locks.lock("ns:" + ref.Namespace)()
	defer s.locks.lock(serviceKey(ref))()
	if _, err := s.records.get(ctx, ref); err != nil {
		return record{}, Rollout{}, err
	}
	if err := s.checkGrowth(ctx, ref, ch.options); err != nil {
		return record{}, Rollout{}, err
	}
	if err := s.checkSource(ctx, ref.Namespace, ch.source); err != nil {
		return record{}, Rollout{}, err
	}
	rec, err := s.records.update(ctx, ref, func(r *record) error {
		r.apply(ch)
		r.Generation++
		r.Updated = s.now().UTC()
		return nil
	})
	if err != nil {
		return record{}, Rollout{}, err
	}
	return s.deploy(ctx, rec)
}

// checkGrowth refuses new options for the service ref that would take its
// namespace past its quota; nil options change nothing.
func (s *Service) checkGrowth(ctx context.Context, ref Ref, o *options) error {
	if o == nil {
		return nil
	}
	p, err := s.planFor(ctx, ref.Namespace, ref.Name, o)
	if err != nil {
		return err
	}
	return p.check(ref.Namespace)
}

// apply changes the record as ch asks. A git source is fetched afresh by
// every generation; an upload is its own resolved source.
func (r *record) apply(ch change) {
	if ch.source != "" {
		r.Source = ch.source
	}
	if ch.version != "" {
		r.Version = ch.version
	}
	if len(ch.metadata) > 0 {
		r.Metadata = maps.Clone(ch.metadata)
	}
	if ch.options != nil {
		r.Options = *ch.options
	}
	r.Resolved = ""
	if !gitSource(r.Source) {
		r.Resolved = r.Source
	}
}

// delete forgets the service, then stops it and removes its account and
// sources. The record goes first, so that the reconciliation never starts
// again what is being stopped.
func (s *Service) delete(ctx context.Context, ref Ref) error {
	defer s.locks.lock(serviceKey(ref))()
	rec, err := s.records.get(ctx, ref)
	if err != nil {
		return err
	}
	if err := s.records.remove(ctx, ref); err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	if err := s.backend.Delete(ctx, ref); err != nil {
		return err
	}
	s.dropAccount(ctx, rec)
	if err := s.sources.removeAll(ctx, ref.Namespace, ref.Name); err != nil {
		s.log.WarnContext(ctx, "remove a deleted service's sources", "namespace", ref.Namespace, "service", ref.Name, "error", err)
	}
	s.log.InfoContext(ctx, "service deleted", "namespace", ref.Namespace, "service", ref.Name)
	return nil
}

// logs sends the service's log lines.
func (s *Service) logs(ctx context.Context, ref Ref, opts LogOptions, send func(*runtimev1.LogsResponse) error) error {
	if _, err := s.records.get(ctx, ref); err != nil {
		return err
	}
	err := s.backend.Logs(ctx, ref, opts, func(l LogLine) error { return send(logToProto(l)) })
	if errors.Is(err, ErrNotFound) {
		// Recorded but not handed to the backend yet: nothing ran.
		return nil
	}
	return err
}
