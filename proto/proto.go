// Package proto is the root of m3o.dev/proto, the platform's API
// definitions and their generated Go code. It holds the module's own
// source tree, which the runtime ships to users' builds beside the SDK
// (m3o.dev/pkg), so that they compile without reaching any network for
// either.
package proto

import "embed"

// Tree is the module's source: go.mod, go.sum, the .proto files and the
// generated code. Embedding cannot reach outside the module, which is why
// each SDK module embeds itself.
//
//go:embed *
var Tree embed.FS
