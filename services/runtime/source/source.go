// Package source turns what a developer hands the runtime into a directory
// the builder can read: an uploaded gzipped tar (Extract, made on the
// developer's machine by Pack) or a git URL (ParseGitURL, Clone).
//
// Both paths treat their input as hostile. Extraction goes through os.Root,
// so no entry can land outside the destination, and refuses anything that
// is not a plain file, a directory or a symlink that stays inside the tree.
// Every bad input comes back as an error matching ErrInvalidSource,
// ErrInvalidGitURL, ErrLocalGitURL or ErrSubmodules, with the entry or URL
// and the reason in its message, so the service can return it to the
// developer as it is.
//
// The package depends on the standard library only, because the CLI
// imports it for Pack.
package source

import (
	"errors"
	"fmt"
)

// ErrInvalidSource marks an archive or checkout the runtime refuses: a
// malformed stream, an entry of a forbidden kind or path, or one over the
// limits. The wrapping error names the entry and the reason.
var ErrInvalidSource = errors.New("the source archive is invalid or over the platform's limits")

// Default and maximum limits for Extract, in bytes and entries.
const (
	// DefaultCompressedBytes bounds the gzipped stream read by Extract.
	DefaultCompressedBytes = 50 << 20
	// MaxCompressedBytes is the most an operator may raise
	// Limits.CompressedBytes to.
	MaxCompressedBytes = 100 << 20
	// DefaultUnpackedBytes bounds the total size of the files written.
	DefaultUnpackedBytes = 200 << 20
	// DefaultFiles bounds the number of entries (files, directories and
	// symlinks) in one archive.
	DefaultFiles = 10_000
)

// Limits bound what one source may hold. A zero field takes its default.
type Limits struct {
	// CompressedBytes is the largest gzipped stream accepted; at most
	// MaxCompressedBytes.
	CompressedBytes int64
	// UnpackedBytes is the largest total of file contents written.
	UnpackedBytes int64
	// Files is the largest number of entries written.
	Files int
}

// withDefaults fills zero fields and refuses a configuration past the
// maximum, which is an operator's mistake rather than bad input.
func (l Limits) withDefaults() (Limits, error) {
	if l.CompressedBytes == 0 {
		l.CompressedBytes = DefaultCompressedBytes
	}
	if l.UnpackedBytes == 0 {
		l.UnpackedBytes = DefaultUnpackedBytes
	}
	if l.Files == 0 {
		l.Files = DefaultFiles
	}
	if l.CompressedBytes < 0 || l.UnpackedBytes < 0 || l.Files < 0 {
		return l, fmt.Errorf("source limits %+v: negative limit", l)
	}
	if l.CompressedBytes > MaxCompressedBytes {
		return l, fmt.Errorf("source limits: %d compressed bytes is over the maximum of %d", l.CompressedBytes, MaxCompressedBytes)
	}
	return l, nil
}

// invalid wraps ErrInvalidSource with the entry's name and the reason.
func invalid(entry, why string, args ...any) error {
	return fmt.Errorf("entry %q: %s: %w", entry, fmt.Sprintf(why, args...), ErrInvalidSource)
}

// mib renders a byte count for messages.
func mib(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
