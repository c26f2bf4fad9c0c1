// Package pkg is the root of m3o.dev/pkg, the module users' services import
// for the SDK. It holds the module's own source tree, which the runtime
// ships to users' builds: they compile against the SDK the platform runs,
// without reaching any network for it.
package pkg

import "embed"

// Version is the version the SDK is released as. A user's go.mod requires
// m3o.dev/pkg at this version; the runtime builds with the shipped tree
// whatever version a go.mod asks for, and its build log says so when they
// differ.
const Version = "v0.1.0"

// Tree is the module's source: go.mod, go.sum and every package, tests
// included. Embedding cannot reach outside the module, which is why each
// SDK module embeds itself.
//
//go:embed *
var Tree embed.FS
