package auth

import (
	"context"
	"errors"
	"slices"
	"sync"

	"m3o.dev/services/internal/storeclient"
)

// Keys of the changes table: one change log for the token keys and
// revocations, one for the rules.
const (
	changesTokens = "tokens"
	changesRules  = "rules"
)

// maxRecentChanges is how many changes a change log remembers; a replica
// that falls further behind reloads everything.
const maxRecentChanges = 64

// changeLog is how replicas learn of each other's changes: each change
// bumps Seq with compare-and-set and is remembered in Recent, with the
// namespace it touched when that matters. Every replica polls the logs
// every WatchInterval and reloads what changed, which bounds how late a
// change made on one replica reaches the watchers of another.
type changeLog struct {
	Seq    uint64        `json:"seq"`
	Recent []changeEntry `json:"recent,omitempty"`
}

// changeEntry is one remembered change.
type changeEntry struct {
	Seq       uint64 `json:"seq"`
	Namespace string `json:"namespace,omitempty"`
}

// logChange records a change in the log under key.
func (s *Service) logChange(ctx context.Context, key, namespace string) error {
	return storeclient.Update(ctx, func() error {
		var l changeLog
		v, err := s.kv.GetJSON(ctx, tableChanges, key, &l)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		opts := storeclient.At(v, 0)
		if err != nil {
			opts = storeclient.Create(0)
		}
		l.Seq++
		l.Recent = append(l.Recent, changeEntry{Seq: l.Seq, Namespace: namespace})
		if n := len(l.Recent); n > maxRecentChanges {
			l.Recent = l.Recent[n-maxRecentChanges:]
		}
		_, err = s.kv.PutJSON(ctx, tableChanges, key, l, opts)
		return err
	})
}

// readChanges returns the log under key; an empty one before any change.
func (s *Service) readChanges(ctx context.Context, key string) (changeLog, error) {
	var l changeLog
	_, err := s.kv.GetJSON(ctx, tableChanges, key, &l)
	if errors.Is(err, ErrNotFound) {
		return changeLog{}, nil
	}
	return l, err
}

// since returns the namespaces changed after seq, and whether the log
// still holds every change after it.
func (l changeLog) since(seq uint64) ([]string, bool) {
	if l.Seq <= seq {
		return nil, true
	}
	complete := len(l.Recent) > 0 && l.Recent[0].Seq <= seq+1
	var out []string
	for _, e := range l.Recent {
		if e.Seq > seq && !slices.Contains(out, e.Namespace) {
			out = append(out, e.Namespace)
		}
	}
	return out, complete
}

// seenChanges is how far this replica has followed the change logs.
type seenChanges struct {
	mu     sync.Mutex
	tokens uint64
	rules  uint64
}

// startFollowing reads where the change logs stand, before the first load,
// so that any change after it is found by the next poll.
func (s *Service) startFollowing(ctx context.Context) error {
	tokens, err := s.readChanges(ctx, changesTokens)
	if err != nil {
		return err
	}
	rules, err := s.readChanges(ctx, changesRules)
	if err != nil {
		return err
	}
	s.seen.mu.Lock()
	defer s.seen.mu.Unlock()
	s.seen.tokens, s.seen.rules = tokens.Seq, rules.Seq
	return nil
}

// pollChanges reloads and pushes what other replicas changed since the
// last poll.
func (s *Service) pollChanges(ctx context.Context) error {
	s.seen.mu.Lock()
	defer s.seen.mu.Unlock()
	tokens, err := s.readChanges(ctx, changesTokens)
	if err != nil {
		return err
	}
	if tokens.Seq != s.seen.tokens {
		if err := s.reload(ctx); err != nil {
			return err
		}
		s.seen.tokens = tokens.Seq
		s.tokenWatch.notify()
	}
	rules, err := s.readChanges(ctx, changesRules)
	if err != nil || rules.Seq == s.seen.rules {
		return err
	}
	namespaces, complete := rules.since(s.seen.rules)
	s.seen.rules = rules.Seq
	s.ruleWatch.publish(namespaces, !complete)
	return nil
}

// tokensChanged tells every replica's key watchers, and this one's at
// once, that the keys or revocations changed. A failure to log the change
// only delays other replicas until their next full reload.
func (s *Service) tokensChanged(ctx context.Context) {
	s.tokenWatch.notify()
	if err := s.logChange(ctx, changesTokens, ""); err != nil {
		s.logger.WarnContext(ctx, "log a change of keys or revocations for other replicas", "error", err)
	}
}

// rulesChanged tells every replica's rule watchers, and this one's at
// once, that the rules of namespace changed.
func (s *Service) rulesChanged(ctx context.Context, namespace string) {
	s.ruleWatch.publish([]string{namespace}, false)
	if err := s.logChange(ctx, changesRules, namespace); err != nil {
		s.logger.WarnContext(ctx, "log a change of rules for other replicas", "namespace", namespace, "error", err)
	}
}
