package cockroach

import (
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"m3o.dev/services/store"
)

// shutdownCodes are the SQLSTATEs of a server that is going away or not
// ready yet: admin_shutdown, crash_shutdown and cannot_connect_now.
var shutdownCodes = []string{"57P01", "57P02", "57P03"}

// unavailable marks err with store.ErrUnavailable when it says the
// database could not be reached, so that callers get Unavailable and try
// again rather than an Internal error.
func unavailable(err error) error {
	if err == nil || !unreachable(err) {
		return err
	}
	return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
}

// unreachable reports whether err is a failure to reach the database
// rather than an answer from it: a refused or broken connection, or a
// server shutting down or starting.
func unreachable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return strings.HasPrefix(pgErr.Code, "08") || slices.Contains(shutdownCodes, pgErr.Code)
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) || errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE)
}
