package skeleton

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/mod/module"

	"m3o.dev/pkg/lazyregexp"
)

// ErrInvalidName marks a service name or module path a skeleton cannot be
// written for; the wrapping error says why.
var ErrInvalidName = errors.New("invalid name")

// namePattern is the runtime's rule for a service's name: a DNS label.
var namePattern = lazyregexp.New(`^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidName reports whether name follows the runtime's rule for a
// service's name.
func ValidName(name string) bool { return namePattern.MatchString(name) }

// SuggestName returns the service name s most likely meant, such as
// "my-service" for "My_Service": lower case, with underscores, dots and
// spaces made dashes. It returns "" when that is no valid name either, or
// when s is valid already.
func SuggestName(s string) string {
	name := strings.Map(func(r rune) rune {
		switch r {
		case '_', '.', ' ':
			return '-'
		}
		return r
	}, strings.ToLower(strings.TrimSpace(s)))
	name = strings.Trim(name, "-")
	if name == s || !ValidName(name) {
		return ""
	}
	return name
}

// reservedPackage is the proto package the platform keeps for its own
// APIs; a service named after it would be refused at start.
const reservedPackage = "m3o"

// names are the identifiers one service name gives the skeleton: dashes
// are fine in a service's name but not in a proto package or a Go
// identifier.
type names struct {
	// Service is the service's name, such as "my-svc".
	Service string
	// Module is the Go module path.
	Module string
	// ProtoPackage is the proto package, "my_svc".
	ProtoPackage string
	// ProtoService is the proto service, "MySvc".
	ProtoService string
	// GoPackage is the package name of the generated code, "mysvcpb".
	GoPackage string
	// ProtoFile is the proto file's path in the module, "proto/my_svc.proto".
	ProtoFile string
}

// newNames derives the names of a service; an empty module means the
// service's name.
func newNames(service, mod string) (names, error) {
	if !ValidName(service) {
		var hint string
		if s := SuggestName(service); s != "" {
			hint = fmt.Sprintf(", such as %q", s)
		}
		return names{}, fmt.Errorf("%q must be a DNS label: lower-case letters, digits and dashes, starting with a letter and at most 63 long%s: %w", service, hint, ErrInvalidName)
	}
	pkg := strings.ReplaceAll(service, "-", "_")
	if pkg == reservedPackage {
		return names{}, fmt.Errorf("%q names the platform's own proto package: %w", service, ErrInvalidName)
	}
	if mod == "" {
		mod = defaultModule(service)
	}
	if err := module.CheckImportPath(mod); err != nil {
		return names{}, fmt.Errorf("module path %q: %v: %w", mod, err, ErrInvalidName)
	}
	return names{
		Service:      service,
		Module:       mod,
		ProtoPackage: pkg,
		ProtoService: camel(service),
		GoPackage:    strings.ReplaceAll(service, "-", "") + "pb",
		ProtoFile:    "proto/" + pkg + ".proto",
	}, nil
}

// stdRoots are the first elements of the standard library's package
// paths (Go 1.26), with builtin and cmd. A module path without a dot is
// the user's to choose, but one of these would make its packages
// ambiguous with the standard library's.
var stdRoots = strings.Fields(`archive bufio builtin bytes cmd cmp compress container context crypto
	database debug embed encoding errors expvar flag fmt go hash html image index internal io iter
	log maps math mime net os path plugin reflect regexp runtime slices sort strconv strings structs
	sync syscall testing text time unicode unique unsafe vendor weak`)

// defaultModule is the module path of a service whose folder names none:
// its name, or example.com/<name> where the name is a standard library
// package's.
func defaultModule(service string) string {
	if slices.Contains(stdRoots, service) {
		return "example.com/" + service
	}
	return service
}

// camel turns a dashed name into an upper camel-case identifier:
// "my-svc" is "MySvc".
func camel(s string) string {
	var b strings.Builder
	for _, part := range strings.Split(s, "-") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

// GoFiles returns the generated Go files' paths for the proto file.
func (n names) generatedFiles() (pb, grpc string) {
	base := strings.TrimSuffix(n.ProtoFile, ".proto")
	return base + ".pb.go", base + "_grpc.pb.go"
}
