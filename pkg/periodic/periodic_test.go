package periodic

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestEveryCallsUntilCancelledAndLogsFailures(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	ctx, cancel := context.WithCancel(t.Context())
	calls := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		Every(ctx, time.Millisecond, logger, "refresh things", func(context.Context) error {
			calls++
			if calls == 3 {
				cancel()
			}
			return errors.New("auth down")
		})
	}()
	<-done
	if calls != 3 {
		t.Errorf("calls = %d, want 3 (the loop stops once its context ends)", calls)
	}
	if got := strings.Count(logs.String(), "refresh things"); got != 2 {
		t.Errorf("logged %d failures, want 2 (none after cancel):\n%s", got, logs.String())
	}
	if !strings.Contains(logs.String(), "auth down") {
		t.Errorf("logs lack the error:\n%s", logs.String())
	}
}

// TestWatchOrPollFallsBackToPolling checks that while the stream fails,
// each failure is followed by a poll and another watch, until one holds.
func TestWatchOrPollFallsBackToPolling(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(t.Context())
	watches, polls := 0, 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		WatchOrPoll(ctx, time.Second, logger, "follow keys",
			func(ctx context.Context) error {
				watches++
				if watches == 3 {
					// The third stream holds until the loop is told to stop.
					cancel()
					<-ctx.Done()
					return ctx.Err()
				}
				return errors.New("auth restarting")
			},
			func(context.Context) error { polls++; return nil })
	}()
	<-done
	if watches != 3 || polls != 2 {
		t.Errorf("watches = %d, polls = %d, want 3 and 2: a poll after each failed watch", watches, polls)
	}
	if got := strings.Count(logs.String(), "level=WARN"); got != 1 {
		t.Errorf("logged %d warnings, want 1 for the outage:\n%s", got, logs.String())
	}
}
