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
