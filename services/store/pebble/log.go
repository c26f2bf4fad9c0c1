package pebble

import (
	"fmt"
	"log/slog"
)

// logger passes Pebble's printf-style messages to slog.
type logger struct{ l *slog.Logger }

// Infof implements pebble.Logger. Pebble narrates routine work here, so it
// goes to the debug level.
func (l logger) Infof(format string, args ...any) {
	l.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}

// Errorf implements pebble.Logger.
func (l logger) Errorf(format string, args ...any) {
	l.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
}

// Fatalf implements pebble.Logger. Pebble calls it on corruption it cannot
// survive and expects it not to return.
func (l logger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.l.Error(msg, "component", "pebble")
	panic("pebble: " + msg)
}
