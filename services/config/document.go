package config

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	configv1 "m3o.dev/proto/m3o/config/v1"
	"m3o.dev/services/internal/storeclient"
)

const (
	// maxHistoryBytes keeps a History response under gRPC's default 4 MiB
	// receive limit, with room for framing; the oldest versions are left out
	// when the newer ones fill it.
	maxHistoryBytes = 4<<20 - 64<<10
	// maxRollbackPaths bounds, in bytes of their JSON, the paths a rollback
	// records; a rollback touching more records the whole document, "".
	maxRollbackPaths = 2 << 10
)

// get returns the value at t.path as JSON, with secrets opened when reveal
// is set and masked otherwise, and the version it was read at.
func (s *Service) get(ctx context.Context, t target, reveal bool) (string, uint64, error) {
	rev, err := s.docs.current(ctx, t.ns)
	if err != nil {
		return "", 0, err
	}
	v, ok := lookup(rev.Data, t.path)
	if !ok {
		return "", 0, notFoundf("path %q is not set", t.path)
	}
	if reveal {
		if v, err = s.sealer(t.ns).reveal(v); err != nil {
			return "", 0, err
		}
	} else {
		v = mask(v)
	}
	out, err := encodeJSON(v)
	if err != nil {
		return "", 0, err
	}
	return string(out), rev.Version, nil
}

// set writes value at t.path, sealed leaf by leaf when secret is set.
func (s *Service) set(ctx context.Context, t target, value any, secret bool) (uint64, error) {
	if secret {
		var err error
		// Sealed once: every attempt writes the same ciphertext.
		if value, err = s.sealer(t.ns).sealLeaves(value); err != nil {
			return 0, err
		}
	}
	return s.change(ctx, t, ActionSet, func(cur revision) (map[string]any, []string, error) {
		put(cur.Data, t.path, value)
		return cur.Data, []string{t.path.String()}, nil
	})
}

// delete removes the value at t.path.
func (s *Service) delete(ctx context.Context, t target) (uint64, error) {
	return s.change(ctx, t, ActionDelete, func(cur revision) (map[string]any, []string, error) {
		if cur.Version == 0 || !remove(cur.Data, t.path) {
			return nil, nil, notFoundf("path %q is not set, so there is nothing to delete", t.path)
		}
		return cur.Data, []string{t.path.String()}, nil
	})
}

// kept says why version is not among the versions kept when latest is the
// latest, or nil when it is.
func kept(version, latest uint64) error {
	oldest := latest + 1 - min(latest, HistoryLength)
	switch {
	case latest == 0:
		return notFoundf("version %d does not exist: nothing has been set yet", version)
	case version > latest:
		return notFoundf("version %d does not exist: the latest is %d", version, latest)
	case version < oldest:
		return notFoundf("version %d is no longer kept: the history keeps versions %d to %d", version, oldest, latest)
	}
	return nil
}

// rollback makes a new version equal to version, which must still be kept.
func (s *Service) rollback(ctx context.Context, t target, version uint64) (uint64, error) {
	var old *revision
	return s.change(ctx, t, ActionRollback, func(cur revision) (map[string]any, []string, error) {
		if err := kept(version, cur.Version); err != nil {
			return nil, nil, err
		}
		switch {
		case version == cur.Version:
			old = &cur
		case old == nil:
			rev, err := s.docs.at(ctx, t.ns, version)
			if err != nil {
				return nil, nil, err
			}
			old = &rev
		}
		return old.Data, rollbackPaths(cur.Data, old.Data), nil
	})
}

// rollbackPaths lists what a rollback from cur to old touches, or the whole
// document when the list would be too long to record.
func rollbackPaths(cur, old map[string]any) []string {
	paths := []string{}
	size := 2
	for _, p := range diff(cur, old, Path{}) {
		paths = append(paths, p.String())
		if size += len(paths[len(paths)-1]) + 3; size > maxRollbackPaths {
			return []string{""}
		}
	}
	return paths
}

// editFunc computes a new document from the current version, saying which
// paths it touched. It may change cur.Data in place; it is called again on a
// fresh copy when the change has to be retried.
type editFunc func(cur revision) (data map[string]any, paths []string, err error)

// change commits edit's result as the next version of t.ns's document,
// after this replica's earlier changes of it, retrying from a fresh read
// whenever another replica's change commits first, so that concurrent
// changes all land. It waits in its namespace's round (rounds).
func (s *Service) change(ctx context.Context, t target, action string, edit editFunc) (uint64, error) {
	c := &pendingChange{ctx: ctx, t: t, action: action, edit: edit, done: make(chan changed, 1)}
	if s.rounds.add(c) {
		go s.writeRounds(t.ns)
	}
	select {
	case r := <-c.done:
		return r.version, r.err
	case <-ctx.Done():
		return 0, fmt.Errorf("%s %s: %w", action, t.ns, ctx.Err())
	}
}

// writeRounds writes the rounds of ns's changes until none are waiting.
func (s *Service) writeRounds(ns string) {
	for batch := s.rounds.next(ns); batch != nil; batch = s.rounds.next(ns) {
		s.writeRound(ns, batch)
	}
}

// writeRound applies batch to ns's document, writes the versions it makes,
// and tells each change how it went.
func (s *Service) writeRound(ns string, batch []*pendingChange) {
	ctx, cancel := roundContext(batch)
	defer cancel()
	var (
		made    []written
		results []changed
	)
	err := storeclient.Update(ctx, func() error {
		cur, err := s.docs.head(ctx, ns)
		if err != nil {
			return err
		}
		if made, results = s.apply(cur, batch); len(made) == 0 {
			return nil
		}
		return s.commit(ctx, ns, cur.record, made)
	})
	for i, c := range batch {
		r := changed{err: err}
		if err == nil {
			r = results[i]
		}
		if r.err != nil {
			r.err = fmt.Errorf("%s %s: %w", c.action, ns, r.err)
		} else {
			s.log.InfoContext(c.ctx, "config changed", "namespace", ns, "version", r.version,
				"action", c.action, "paths", r.paths, "author", c.t.author)
		}
		c.done <- r
	}
	if err == nil && len(made) > 0 {
		s.hub.notify(ns)
	}
}

// written is a version a round made, and its document encoded.
type written struct {
	rev  revision
	data []byte
}

// apply makes batch's versions on top of cur, one change after another. A
// change whose edit fails, whose result is too large, or whose caller has
// given up makes no version, and the next change applies to the version
// before it. Each edit gets a document of its own, decoded afresh, so that
// no edit reaches into another's version.
func (s *Service) apply(cur head, batch []*pendingChange) ([]written, []changed) {
	version, prev := cur.version, cur.encoded
	made := make([]written, 0, len(batch))
	results := make([]changed, len(batch))
	for i, c := range batch {
		w, err := s.applyOne(c, revision{Version: version}, prev)
		if err != nil {
			results[i].err = err
			continue
		}
		made = append(made, w)
		version, prev = w.rev.Version, w.data
		results[i] = changed{version: version, paths: w.rev.Paths}
	}
	return made, results
}

// applyOne makes the version that c's edit makes of base, whose document is
// encoded in data.
func (s *Service) applyOne(c *pendingChange, base revision, data []byte) (written, error) {
	if err := c.ctx.Err(); err != nil {
		return written{}, err
	}
	doc, err := decodeDocument(data)
	if err != nil {
		return written{}, err
	}
	base.Data = doc
	next, paths, err := c.edit(base)
	if err != nil {
		return written{}, err
	}
	encoded, err := encodeJSON(next)
	if err != nil {
		return written{}, err
	}
	if err := checkShape(next, len(encoded)); err != nil {
		return written{}, err
	}
	rev := revision{Version: base.Version + 1, Author: c.t.author, Time: s.now().UTC(), Action: c.action, Paths: paths, Data: next}
	return written{rev: rev, data: encoded}, nil
}

// commit writes made, the versions of one round, over store version prev of
// ns's document. Changes whose history could not be kept are still changes:
// that is logged, not returned.
func (s *Service) commit(ctx context.Context, ns string, prev uint64, made []written) error {
	err := s.docs.commit(ctx, ns, prev, made)
	if errors.Is(err, errHistory) {
		s.log.WarnContext(ctx, "config history incomplete", "namespace", ns, "version", made[len(made)-1].rev.Version, "error", err)
		return nil
	}
	return err
}

// history returns the kept versions that touched t.path, newest first, with
// secrets masked.
func (s *Service) history(ctx context.Context, t target) ([]*configv1.Change, error) {
	cur, err := s.docs.current(ctx, t.ns)
	if err != nil || cur.Version == 0 {
		return nil, err
	}
	var (
		changes []*configv1.Change
		budget  = maxHistoryBytes
		fail    error
	)
	// The current version comes from the document record itself, so that
	// it is listed even if writing its history record failed.
	add := func(rev revision) bool {
		if rev.Version+HistoryLength <= cur.Version {
			return false
		}
		if !touches(rev, t.path) {
			return true
		}
		c, err := toChange(rev)
		if err != nil {
			fail = err
			return false
		}
		if budget -= proto.Size(c) + 8; budget < 0 {
			return false
		}
		changes = append(changes, c)
		return true
	}
	if add(cur) {
		err = s.docs.history(ctx, t.ns, cur.Version, add)
	}
	return changes, errors.Join(err, fail)
}

// touches reports whether rev changed anything under p.
func touches(rev revision, p Path) bool {
	if len(p) == 0 {
		return true
	}
	for _, text := range rev.Paths {
		q, err := ParsePath(text)
		if err != nil || q.Overlaps(p) {
			return true
		}
	}
	return false
}

// toChange describes one version for History, secrets masked.
func toChange(rev revision) (*configv1.Change, error) {
	value, err := encodeJSON(mask(rev.Data))
	if err != nil {
		return nil, err
	}
	return &configv1.Change{
		Version: rev.Version,
		Author:  rev.Author,
		Time:    timestamppb.New(rev.Time),
		Action:  rev.Action,
		Paths:   rev.Paths,
		Value:   string(value),
	}, nil
}

// sealer returns the sealer for ns's secrets.
func (s *Service) sealer(ns string) sealer {
	return sealer{ring: s.ring, namespace: ns}
}
