package invoke

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"
	reflectpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// reflection is one server reflection stream.
type reflection struct {
	stream reflectpb.ServerReflection_ServerReflectionInfoClient
	cancel context.CancelFunc
}

// reflect opens a reflection stream.
func (c *Client) reflect(ctx context.Context) (*reflection, error) {
	ctx, cancel := context.WithCancel(c.outgoing(ctx))
	stream, err := reflectpb.NewServerReflectionClient(c.cc).ServerReflectionInfo(ctx)
	if err != nil {
		cancel()
		return nil, noReflection(err)
	}
	return &reflection{stream: stream, cancel: cancel}, nil
}

// close ends the stream.
func (r *reflection) close() {
	_ = r.stream.CloseSend()
	r.cancel()
}

// ask sends one request and returns its answer. An error the server
// answers in the stream comes back as a status of its code.
func (r *reflection) ask(req *reflectpb.ServerReflectionRequest) (*reflectpb.ServerReflectionResponse, error) {
	if err := r.stream.Send(req); err != nil {
		_, err = r.stream.Recv() // the stream's own error says why
		return nil, noReflection(err)
	}
	resp, err := r.stream.Recv()
	if err != nil {
		return nil, noReflection(err)
	}
	if e := resp.GetErrorResponse(); e != nil {
		return nil, status.Error(codes.Code(e.GetErrorCode()), e.GetErrorMessage())
	}
	return resp, nil
}

// noReflection reports an Unimplemented reflection service as
// ErrNoReflection and passes any other error on.
func noReflection(err error) error {
	if status.Code(err) == codes.Unimplemented {
		return ErrNoReflection
	}
	return err
}

// qualify returns the full name of the one service whose name without its
// package is short.
func (r *reflection) qualify(short string) (string, error) {
	resp, err := r.ask(&reflectpb.ServerReflectionRequest{MessageRequest: &reflectpb.ServerReflectionRequest_ListServices{}})
	if err != nil {
		return "", err
	}
	var all, matches []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		name := s.GetName()
		if strings.HasPrefix(name, "grpc.") {
			continue
		}
		all = append(all, name)
		if name == short || strings.HasSuffix(name, "."+short) {
			matches = append(matches, name)
		}
	}
	switch len(matches) {
	case 1:
		return matches[0], nil
	case 0:
		return "", fmt.Errorf("no service %s; the service has %s: %w", short, listOrNone(all), ErrUnknownMethod)
	}
	slices.Sort(matches)
	return "", fmt.Errorf("%s could be %s; name it in full: %w", short, strings.Join(matches, " or "), ErrAmbiguous)
}

// listOrNone joins names for a message.
func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// filesOf returns the file defining the symbol and every file it imports.
func (r *reflection) filesOf(symbol string) (*protoregistry.Files, error) {
	resp, err := r.ask(&reflectpb.ServerReflectionRequest{
		MessageRequest: &reflectpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: symbol},
	})
	if status.Code(err) == codes.NotFound {
		return nil, fmt.Errorf("service %s: %w", symbol, ErrUnknownMethod)
	}
	if err != nil {
		return nil, err
	}
	got := map[string]*descriptorpb.FileDescriptorProto{}
	if err := addFiles(got, resp); err != nil {
		return nil, err
	}
	if err := r.fetchImports(got); err != nil {
		return nil, err
	}
	set := &descriptorpb.FileDescriptorSet{}
	for _, fd := range got {
		set.File = append(set.File, fd)
	}
	files, err := protodesc.NewFiles(set)
	if err != nil {
		return nil, fmt.Errorf("the descriptors of %s from reflection: %w", symbol, err)
	}
	return files, nil
}

// addFiles decodes the files of a reflection answer into got.
func addFiles(got map[string]*descriptorpb.FileDescriptorProto, resp *reflectpb.ServerReflectionResponse) error {
	for _, raw := range resp.GetFileDescriptorResponse().GetFileDescriptorProto() {
		fd := &descriptorpb.FileDescriptorProto{}
		if err := proto.Unmarshal(raw, fd); err != nil {
			return fmt.Errorf("decode a file descriptor from reflection: %w", err)
		}
		got[fd.GetName()] = fd
	}
	return nil
}

// fetchImports adds every file the files in got import, transitively:
// from the server, or from the descriptors linked into this program when
// the server does not have one, as with well-known types.
func (r *reflection) fetchImports(got map[string]*descriptorpb.FileDescriptorProto) error {
	for {
		missing := missingImports(got)
		if len(missing) == 0 {
			return nil
		}
		for _, name := range missing {
			if err := r.fetchFile(got, name); err != nil {
				return err
			}
		}
	}
}

// fetchFile adds the file called name to got.
func (r *reflection) fetchFile(got map[string]*descriptorpb.FileDescriptorProto, name string) error {
	resp, err := r.ask(&reflectpb.ServerReflectionRequest{
		MessageRequest: &reflectpb.ServerReflectionRequest_FileByFilename{FileByFilename: name},
	})
	if err == nil {
		err = addFiles(got, resp)
	}
	if _, ok := got[name]; ok {
		return err
	}
	fd, lerr := protoregistry.GlobalFiles.FindFileByPath(name)
	if lerr != nil {
		return errors.Join(fmt.Errorf("the service's reflection has no file %s", name), err)
	}
	got[name] = protodesc.ToFileDescriptorProto(fd)
	return nil
}

// missingImports lists the imports of files in got that got lacks.
func missingImports(got map[string]*descriptorpb.FileDescriptorProto) []string {
	var missing []string
	for _, fd := range got {
		for _, dep := range fd.GetDependency() {
			if _, ok := got[dep]; !ok && !slices.Contains(missing, dep) {
				missing = append(missing, dep)
			}
		}
	}
	return missing
}
