package etcdembed

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"

	"go.uber.org/zap/zapcore"
)

// slogCore is a zapcore.Core that forwards etcd's error-level entries to a
// slog.Logger, so that an embedded etcd logs through the platform's logger
// and stays quiet unless something is wrong.
type slogCore struct {
	logger *slog.Logger
	attrs  []any
	// closing is set once the server is being stopped: etcd then reports
	// its listeners closing under it as errors, which they are not.
	closing *atomic.Bool
}

// newSlogCore returns a core writing to logger, or a core that drops
// everything when logger is nil.
func newSlogCore(logger *slog.Logger, closing *atomic.Bool) zapcore.Core {
	if logger == nil {
		return zapcore.NewNopCore()
	}
	return &slogCore{logger: logger.With("component", "etcd"), closing: closing}
}

// Enabled implements zapcore.LevelEnabler.
func (c *slogCore) Enabled(l zapcore.Level) bool {
	return l >= zapcore.ErrorLevel && !c.closing.Load()
}

// With implements zapcore.Core.
func (c *slogCore) With(fields []zapcore.Field) zapcore.Core {
	return &slogCore{logger: c.logger, closing: c.closing, attrs: append(c.attrs[:len(c.attrs):len(c.attrs)], toAttrs(fields)...)}
}

// Check implements zapcore.Core.
func (c *slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

// Write implements zapcore.Core.
func (c *slogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	args := append(c.attrs[:len(c.attrs):len(c.attrs)], toAttrs(fields)...)
	c.logger.Log(context.Background(), slog.LevelError, e.Message, args...)
	return nil
}

// Sync implements zapcore.Core.
func (c *slogCore) Sync() error { return nil }

// toAttrs converts zap fields to slog key-value pairs through zap's map
// encoder, which knows how to render every field type.
func toAttrs(fields []zapcore.Field) []any {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range fields {
		f.AddTo(enc)
	}
	attrs := make([]any, 0, 2*len(enc.Fields))
	for k, v := range enc.Fields {
		// etcd's keys are kebab-case; the platform's logs are snake_case.
		attrs = append(attrs, strings.ReplaceAll(k, "-", "_"), v)
	}
	return attrs
}
