package platformtest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
)

// Files that, in an uploaded source, make the runtime fail it: BROKEN
// fails its build, CRASH its start.
const (
	BrokenFile = "BROKEN"
	CrashFile  = "CRASH"
)

// Texts of the failures BrokenFile and CrashFile cause.
const (
	BuildError = "build failed:\n./main.go:3:1: syntax error: non-declaration statement outside function body"
	CrashError = "instance 1: exit status 1 after 5 crashes in a row (4 restarts); restarting every 1m0s"
)

// steps are the statuses a deployment goes through, one a Read.
var steps = []runtimev1.Status{
	runtimev1.Status_STATUS_PENDING, runtimev1.Status_STATUS_BUILDING,
	runtimev1.Status_STATUS_STARTING, runtimev1.Status_STATUS_RUNNING,
}

// runtimeService keeps services in memory and moves each deployment one
// step on with every Read, to running or to the failure its source asks
// for. Its admin calls (runtime_admin.go) resize a service "hello" of any
// namespace, keep the quotas they are given and list two namespaces.
type runtimeService struct {
	runtimev1.UnimplementedRuntimeServiceServer
	p *Platform

	mu       sync.Mutex
	sources  map[string][]string                // source id: the archive's file names
	kept     map[string][]*runtimev1.KeptSource // service name: its uploads, newest first
	uploads  [][]string
	planned  []*runtimev1.Options // the options each upload's first message carried
	services map[string]*deployment
}

// deployment is a service and where its latest generation stands.
type deployment struct {
	svc     *runtimev1.Service
	step    int
	fail    string // the failure of the latest generation's source, or ""
	running string // the source of the generation that runs
}

// Uploads returns the file names of every source uploaded, in order.
func (p *Platform) Uploads() [][]string {
	s := p.runtime
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]string(nil), s.uploads...)
}

// UploadOptions returns the options each upload carried, in order; nil
// for an upload without.
func (p *Platform) UploadOptions() []*runtimev1.Options {
	s := p.runtime
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*runtimev1.Options(nil), s.planned...)
}

// Service returns the runtime's service called name, or nil.
func (p *Platform) Service(name string) *runtimev1.Service {
	s := p.runtime
	s.mu.Lock()
	defer s.mu.Unlock()
	if d, ok := s.services[name]; ok {
		return proto.Clone(d.svc).(*runtimev1.Service)
	}
	return nil
}

// Upload implements runtimev1.RuntimeServiceServer.
func (s *runtimeService) Upload(stream grpc.ClientStreamingServer[runtimev1.UploadRequest, runtimev1.UploadResponse]) error {
	var archive bytes.Buffer
	var opts *runtimev1.Options
	name := ""
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if name == "" {
			name, opts = req.GetName(), req.GetOptions()
		}
		archive.Write(req.GetChunk())
	}
	files, err := listArchive(archive.Bytes())
	if name == "" || err != nil {
		return status.Errorf(codes.InvalidArgument, "name and a gzipped tar are required (%v)", err)
	}
	id := "src-" + strings.ToLower(rand.Text()[:26])
	s.mu.Lock()
	s.sources[id] = files
	kept := &runtimev1.KeptSource{Id: id, Uploaded: timestamp(time.Now()), SizeBytes: uint64(archive.Len()), Sha256: fmt.Sprintf("%x", sha256.Sum256(archive.Bytes()))}
	s.kept[name] = append([]*runtimev1.KeptSource{kept}, s.kept[name]...)
	s.uploads = append(s.uploads, files)
	s.planned = append(s.planned, opts)
	s.mu.Unlock()
	return stream.SendAndClose(&runtimev1.UploadResponse{SourceId: id, SizeBytes: uint64(archive.Len())})
}

// listArchive returns the names in a gzipped tar.
func listArchive(data []byte) ([]string, error) {
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(gz)
	var names []string
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names, nil
		}
		if err != nil {
			return nil, err
		}
		names = append(names, hdr.Name)
	}
}

// Create implements runtimev1.RuntimeServiceServer.
func (s *runtimeService) Create(_ context.Context, req *runtimev1.CreateRequest) (*runtimev1.CreateResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := req.GetService().GetName()
	if _, ok := s.services[name]; ok {
		return nil, status.Errorf(codes.AlreadyExists, "service %s already exists", name)
	}
	fail, err := s.failureOf(req.GetService().GetSource())
	if err != nil {
		return nil, err
	}
	now := timestamp(time.Now())
	svc := &runtimev1.Service{
		Name: name, Source: req.GetService().GetSource(), Namespace: Namespace, Status: steps[0],
		Generation: 1, Created: now, Updated: now, Options: req.GetOptions(),
	}
	s.services[name] = &deployment{svc: svc, fail: fail}
	return &runtimev1.CreateResponse{Service: proto.Clone(svc).(*runtimev1.Service)}, nil
}

// failureOf returns the failure a source asks for; a source id must have
// been uploaded, and any other source is a git URL, which builds.
func (s *runtimeService) failureOf(src string) (string, error) {
	if !strings.HasPrefix(src, "src-") {
		return "", nil
	}
	files, ok := s.sources[src]
	switch {
	case !ok:
		return "", status.Errorf(codes.InvalidArgument, "service.source: namespace %q keeps no source %s; reading the service by name lists the sources kept", Namespace, src)
	case contains(files, BrokenFile):
		return BuildError, nil
	case contains(files, CrashFile):
		return CrashError, nil
	}
	return "", nil
}

func contains(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}
