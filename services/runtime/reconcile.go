package runtime

import (
	"context"
	"errors"
	"time"
)

// orphanSourceAge is how long an upload for a service that does not exist
// is kept.
const orphanSourceAge = 24 * time.Hour

// handOverPoll is how soon the next pass comes while a newer generation
// waits behind an older one the backend is given first, as after a
// restart: the newer one follows it within seconds, not a whole
// ReconcileInterval in which the service reads as pending.
const handOverPoll = 2 * time.Second

// Reconcile makes the backend run what the records say until ctx ends:
// once at start, which after a restart, a crash or a kill -9 of the server
// starts again every service that was running, then every
// ReconcileInterval, retrying sooner while the store cannot be reached
// and while a newer generation waits to be handed over. It also stops what
// runs without a record and the services of namespaces that must pay, and
// removes uploads older than a day for services that do not exist. Kick
// asks for a pass sooner.
func (s *Service) Reconcile(ctx context.Context) {
	retry := time.Second
	for {
		next := s.opts.ReconcileInterval
		waiting, err := s.reconcileOnce(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.WarnContext(ctx, "reconcile the runtime's services", "error", err, "retry_in", retry)
			next, retry = min(retry, next), min(retry*2, next)
		case waiting:
			next, retry = min(handOverPoll, next), time.Second
		default:
			retry = time.Second
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(next):
		case <-s.kick:
		}
	}
}

// reconcileOnce makes one pass over the records and the backend. waiting
// reports whether a service's newer generation waits for a later pass.
func (s *Service) reconcileOnce(ctx context.Context) (waiting bool, err error) {
	recs, err := s.records.list(ctx, "")
	if err != nil {
		return false, err
	}
	var errs []error
	known := map[Ref]bool{}
	for _, rec := range recs {
		known[rec.ref()] = true
		w, err := s.reconcileOne(ctx, rec.ref())
		waiting = waiting || w
		errs = append(errs, err)
	}
	errs = append(errs, s.dropStrays(ctx, known), s.sweepSources(ctx, known))
	return waiting, errors.Join(errs...)
}

// reconcileOne hands the service's generation to the backend unless the
// backend has it already, or stops it while its namespace must pay.
// waiting reports that the generation waits for an older one to settle.
func (s *Service) reconcileOne(ctx context.Context, ref Ref) (waiting bool, err error) {
	defer s.locks.lock(serviceKey(ref))()
	if _, unpaid := s.unpaid(ref.Namespace); unpaid {
		return false, s.stopUnpaid(ctx, ref)
	}
	rec, err := s.records.get(ctx, ref)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	st, err := s.backend.Status(ctx, ref)
	switch {
	case err == nil && st.Generation >= rec.Generation:
		return false, s.noteRan(ctx, rec, st)
	case err == nil && rollingOut(st):
		return true, nil // a later pass hands over the newer generation
	case errors.Is(err, ErrNotFound) && rec.ranBefore():
		// The backend has nothing, as after a restart, and the record's
		// generation never ran: the one that did runs first.
		s.log.InfoContext(ctx, "starting the generation that last ran", "namespace", ref.Namespace, "service", ref.Name,
			"generation", rec.Ran.Generation, "latest", rec.Generation)
		_, _, err = s.deploy(ctx, rec.asRan())
		return err == nil, err
	case err != nil && !errors.Is(err, ErrNotFound):
		return false, err
	}
	s.log.InfoContext(ctx, "starting a recorded service", "namespace", ref.Namespace, "service", ref.Name, "generation", rec.Generation)
	_, _, err = s.deploy(ctx, rec)
	return false, err
}

// rollingOut reports whether the backend is building or starting a
// generation that does not serve yet.
func rollingOut(st Status) bool {
	return st.RunningGeneration < st.Generation && (st.State == StateBuilding || st.State == StateStarting)
}

// noteRan records the record's generation as the one that last ran, once
// the backend runs it.
func (s *Service) noteRan(ctx context.Context, rec record, st Status) error {
	if st.RunningGeneration != rec.Generation || (rec.Ran != nil && rec.Ran.Generation >= rec.Generation) {
		return nil
	}
	_, err := s.records.update(ctx, rec.ref(), func(r *record) error {
		if r.Generation == rec.Generation {
			r.Ran = &ranGeneration{Generation: r.Generation, Version: r.Version, Resolved: r.Resolved, Options: r.Options}
		}
		return nil
	})
	return err
}

// dropStrays stops what the backend runs without a record: a service
// deleted while this replica was away.
func (s *Service) dropStrays(ctx context.Context, known map[Ref]bool) error {
	refs, err := s.backend.List(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, ref := range refs {
		if !known[ref] {
			errs = append(errs, s.dropStray(ctx, ref))
		}
	}
	return errors.Join(errs...)
}

// dropStray stops ref if it still has no record.
func (s *Service) dropStray(ctx context.Context, ref Ref) error {
	defer s.locks.lock(serviceKey(ref))()
	if _, err := s.records.get(ctx, ref); !errors.Is(err, ErrNotFound) {
		return err
	}
	s.log.InfoContext(ctx, "stopping a service without a record", "namespace", ref.Namespace, "service", ref.Name)
	return s.backend.Delete(ctx, ref)
}

// sweepSources removes old uploads for services that do not exist.
func (s *Service) sweepSources(ctx context.Context, known map[Ref]bool) error {
	metas, namespaces, err := s.sources.list(ctx, "")
	if err != nil {
		return err
	}
	cutoff := s.now().Add(-orphanSourceAge)
	for i, m := range metas {
		if !known[Ref{Namespace: namespaces[i], Name: m.Name}] && m.Uploaded.Before(cutoff) {
			if err := s.sources.remove(ctx, namespaces[i], m); err != nil {
				return err
			}
		}
	}
	return nil
}
