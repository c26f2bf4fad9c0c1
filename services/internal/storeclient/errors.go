package storeclient

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/backoff"
)

// The errors every caller of the store sees, whatever it keeps there.
var (
	// ErrNotFound means the record does not exist or has expired. The store
	// answers a read of a missing key, or a scan of an empty table, with it.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists means a record that had to be new exists.
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict means a compare-and-set found another version: someone
	// else changed the record first.
	ErrConflict = errors.New("changed concurrently")
	// ErrUnavailable means the store could not be reached or answered too
	// late; the caller may retry.
	ErrUnavailable = errors.New("store unavailable")
	// ErrRefused means the store found the request malformed. That is the
	// calling service's fault, unless the request carried something its own
	// caller chose, such as a page token.
	ErrRefused = errors.New("store refused the request")
)

// mapError decides what a store status means to its caller. The store's
// status never passes through unchanged: what is not one of the errors
// above is the caller's own cancellation or a fault to log.
func mapError(ctx context.Context, op string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s: %w", op, ctxErr)
	}
	st := status.Convert(err)
	switch st.Code() {
	case codes.NotFound:
		return fmt.Errorf("%s: %w", op, ErrNotFound)
	case codes.Aborted:
		return fmt.Errorf("%s: %w", op, ErrConflict)
	case codes.InvalidArgument:
		return fmt.Errorf("%s: %w: %s", op, ErrRefused, st.Message())
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
		return fmt.Errorf("%s: %s: %w", op, strings.ToLower(st.Message()), ErrUnavailable)
	}
	// The detail is for the caller's log; its status mapping answers
	// Internal for an error it does not know.
	return fmt.Errorf("%s: store answered %s: %s", op, st.Code(), st.Message())
}

// conflictBackoff spreads out the retries of a compare-and-set that keeps
// losing: a few milliseconds at first, so that a short race costs little,
// growing so that many writers of one record stop colliding. Full jitter
// keeps them from retrying in step.
var conflictBackoff = backoff.Policy{Min: time.Millisecond, Max: 64 * time.Millisecond, Jitter: 1}

// MaxAttempts bounds the attempts of one Update.
const MaxAttempts = 100

// Update runs change until it returns something other than ErrConflict, at
// most MaxAttempts times, pausing between attempts and giving up early when
// ctx ends. change must read what it updates afresh on every attempt.
func Update(ctx context.Context, change func() error) error {
	b := conflictBackoff.Start()
	for {
		err := change()
		if !errors.Is(err, ErrConflict) {
			return err
		}
		if b.Tries()+1 >= MaxAttempts {
			return fmt.Errorf("gave up after %d attempts: %w", MaxAttempts, err)
		}
		if werr := b.Wait(ctx); werr != nil {
			return fmt.Errorf("after %d attempts: %w", b.Tries(), werr)
		}
	}
}
