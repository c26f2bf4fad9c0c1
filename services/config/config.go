// Package config is the platform's configuration service: the
// m3o.config.v1.ConfigService over the store service.
//
// Each namespace has one JSON document. Every change writes a new version of
// it with compare-and-set, retrying on conflict, so concurrent changes to
// different paths never lose each other. The document lives in the store
// service's `_config` system database, which only the identity micro/config
// may open:
//
//	table "documents", key <namespace>            the current version
//	table "history",   key <namespace>/<version>  one record per version, the last HistoryLength kept
//
// A record's value is the document itself, as JSON; its metadata carries the
// version number, author, time, action and touched paths, so that a document
// of MaxDocumentBytes still fits the store's 1 MiB value limit.
//
// Paths are dotted, with a backslash escaping a dot or backslash inside a
// key (see ParsePath). A segment is always an object key: array elements are
// not addressable, and an array is read and written whole. Setting a path
// under a value that is not an object replaces that value with an object.
//
// Secrets are sealed leaf by leaf with AES-256-GCM under the primary key of a
// Keyring, each carrying its key id so that keys can rotate; a sealed leaf is
// stored as {"$secret": {...}}, which is why "$secret" is a reserved key.
// Object keys are never secret, only values. Reads mask every secret as
// "[secret]" unless the caller asks for them and may see them.
//
// Bad input is InvalidArgument with an errdetails.BadRequest naming the
// field. That includes a change that would make the document larger than
// MaxDocumentBytes: the request is what cannot be applied, so it is the
// argument that is invalid, even though the same request may fit a smaller
// document.
package config

import (
	"errors"
	"fmt"
	"time"

	"m3o.dev/services/internal/invalid"
	"m3o.dev/services/internal/rpcerr"
	"m3o.dev/services/internal/storeclient"
)

// Limits and fixed names; validate.go enforces the limits at the RPC boundary.
const (
	// MaxPathBytes is the longest path, in bytes of its dotted form.
	MaxPathBytes = 1024
	// MaxPathSegments is the deepest path, in segments.
	MaxPathSegments = 32
	// MaxDepth is the deepest a document may nest, counting each object or
	// array level, sealed secrets included. Far below what any decoder
	// refuses, so every document written can be read back.
	MaxDepth = 64
	// MaxNodes bounds the values (objects, arrays, leaves) of a document.
	MaxNodes = 100_000
	// MaxDocumentBytes is the largest document, measured as stored: compact
	// JSON with secrets sealed, which is what must fit one store record.
	MaxDocumentBytes = 1 << 20
	// HistoryLength is how many versions of a document are kept.
	HistoryLength = 50
	// Database is the store service's system database that holds every
	// document; only the identity micro/config may open it.
	Database = "_config"
	// Masked stands in for a secret value that is not revealed.
	Masked = "[secret]"
	// DefaultPollInterval is how often a watcher checks the store for
	// changes made through other replicas.
	DefaultPollInterval = 500 * time.Millisecond
)

// Actions recorded in history.
const (
	// ActionSet records a Set.
	ActionSet = "set"
	// ActionDelete records a Delete.
	ActionDelete = "delete"
	// ActionRollback records a Rollback.
	ActionRollback = "rollback"
)

// secretKey is the one key of the object that stands for a sealed value.
const secretKey = "$secret"

// Store is the store service's client; the connection must present the
// identity micro/config, the one identity the store lets open _config.
type Store = storeclient.Store

// Sentinel errors; status.go maps each to one gRPC code.
var (
	// ErrNotFound means the path, or the version, does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalid means the request is malformed or too large; the error is
	// an *invalid.Error naming the fields.
	ErrInvalid = invalid.ErrInvalid
	// ErrUnauthenticated means the call carries no verified identity.
	ErrUnauthenticated = rpcerr.ErrUnauthenticated
	// ErrPermissionDenied means the caller may not use the namespace it asked
	// for, or may not see its secrets.
	ErrPermissionDenied = rpcerr.ErrPermissionDenied
	// ErrConflict means a change kept losing the compare-and-set race and
	// gave up.
	ErrConflict = storeclient.ErrConflict
	// ErrUnavailable means the store service could not be reached.
	ErrUnavailable = storeclient.ErrUnavailable
	// ErrUnknownKey means a secret was sealed under a key id that the keyring
	// does not hold.
	ErrUnknownKey = errors.New("unknown encryption key")
	// ErrBadKeyring means a keyring, or the file it came from, is malformed.
	ErrBadKeyring = errors.New("bad keyring")
)

// notFound is ErrNotFound told as the sentence its caller reads.
type notFound struct{ sentence string }

func notFoundf(format string, args ...any) error {
	return notFound{sentence: fmt.Sprintf(format, args...)}
}

func (e notFound) Error() string        { return e.sentence }
func (e notFound) Is(target error) bool { return target == ErrNotFound }

// revision is one version of a namespace's document, as the store holds it.
type revision struct {
	// Version counts the document's versions, from 1; 0 means never set.
	Version uint64
	// Author is the account or service that made this version.
	Author string
	// Time is when this version was made.
	Time time.Time
	// Action is ActionSet, ActionDelete or ActionRollback.
	Action string
	// Paths are the paths the change touched, in dotted form.
	Paths []string
	// Data is the document, with secrets sealed.
	Data map[string]any
}
