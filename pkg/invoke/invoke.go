// Package invoke calls a gRPC method it knows only by name, with a request
// written as JSON, as `micro call` does. It learns the method's request
// and response types from the service's server reflection, asked on the
// same connection, and encodes and decodes them as protojson.
//
// Every stream and call carries the metadata given to New, such as the
// micro-service header that makes the platform's proxy send reflection and
// the call itself to a user's service.
package invoke

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Errors of resolving and calling a method. Each is wrapped with the names
// involved.
var (
	// ErrNoReflection means the service does not answer server reflection.
	ErrNoReflection = errors.New("the service does not answer gRPC server reflection")
	// ErrUnknownMethod means the service has no such service or method.
	ErrUnknownMethod = errors.New("no such method")
	// ErrAmbiguous means a short service name matches several services.
	ErrAmbiguous = errors.New("the service name is ambiguous")
	// ErrBadName means the method's name is not in a form Resolve reads.
	ErrBadName = errors.New("the method must be Service.Method, package.Service.Method or /package.Service/Method")
	// ErrBadRequest means the JSON is not a request of the method.
	ErrBadRequest = errors.New("the request does not fit the method")
	// ErrClientStreaming means the method reads a stream of requests,
	// which a single JSON request cannot give it.
	ErrClientStreaming = errors.New("methods that take a stream of requests are not supported")
)

// Client resolves and calls methods on one connection.
type Client struct {
	cc grpc.ClientConnInterface
	md metadata.MD
}

// New returns a Client calling through cc, sending md with every stream
// and call.
func New(cc grpc.ClientConnInterface, md metadata.MD) *Client {
	return &Client{cc: cc, md: md}
}

// Method is a resolved method and the types it uses.
type Method struct {
	// Desc describes the method.
	Desc protoreflect.MethodDescriptor
	// types resolves the message types of the service's files, for Any.
	types *dynamicpb.Types
}

// FullName returns the method's gRPC name, "/package.Service/Method".
func (m Method) FullName() string {
	return "/" + string(m.Desc.Parent().FullName()) + "/" + string(m.Desc.Name())
}

// outgoing returns ctx carrying the client's metadata.
func (c *Client) outgoing(ctx context.Context) context.Context {
	if len(c.md) == 0 {
		return ctx
	}
	md, _ := metadata.FromOutgoingContext(ctx)
	return metadata.NewOutgoingContext(ctx, metadata.Join(md, c.md))
}

// Resolve finds the method name names: "Service.Method", where Service is
// a service's name without its package, "package.Service.Method" or
// "/package.Service/Method".
func (c *Client) Resolve(ctx context.Context, name string) (Method, error) {
	service, method, err := splitName(name)
	if err != nil {
		return Method{}, err
	}
	r, err := c.reflect(ctx)
	if err != nil {
		return Method{}, err
	}
	defer r.close()
	if !strings.Contains(service, ".") {
		if service, err = r.qualify(service); err != nil {
			return Method{}, err
		}
	}
	files, err := r.filesOf(service)
	if err != nil {
		return Method{}, err
	}
	return find(files, service, method)
}

// splitName reads a method's name into its service and method.
func splitName(name string) (service, method string, err error) {
	if rest, ok := strings.CutPrefix(name, "/"); ok {
		service, method, ok = strings.Cut(rest, "/")
		if !ok || service == "" || method == "" || strings.Contains(method, "/") {
			return "", "", fmt.Errorf("%q: %w", name, ErrBadName)
		}
		return service, method, nil
	}
	i := strings.LastIndex(name, ".")
	if i <= 0 || i == len(name)-1 || strings.Contains(name, "/") {
		return "", "", fmt.Errorf("%q: %w", name, ErrBadName)
	}
	return name[:i], name[i+1:], nil
}

// find returns the method of the service in files.
func find(files *protoregistry.Files, service, method string) (Method, error) {
	d, err := files.FindDescriptorByName(protoreflect.FullName(service))
	if err != nil {
		return Method{}, fmt.Errorf("service %s: %w", service, ErrUnknownMethod)
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return Method{}, fmt.Errorf("%s is not a service: %w", service, ErrUnknownMethod)
	}
	md := sd.Methods().ByName(protoreflect.Name(method))
	if md == nil {
		return Method{}, fmt.Errorf("service %s has no method %s; it has %s: %w", service, method, methodNames(sd), ErrUnknownMethod)
	}
	if md.IsStreamingClient() {
		return Method{}, fmt.Errorf("%s: %w", md.FullName(), ErrClientStreaming)
	}
	return Method{Desc: md, types: dynamicpb.NewTypes(files)}, nil
}

// methodNames lists a service's methods for a message.
func methodNames(sd protoreflect.ServiceDescriptor) string {
	var names []string
	for i := range sd.Methods().Len() {
		names = append(names, string(sd.Name())+"."+string(sd.Methods().Get(i).Name()))
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
