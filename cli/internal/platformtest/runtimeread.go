package platformtest

import (
	"context"
	"fmt"
	"sort"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"m3o.dev/pkg/platform"
	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
)

// Read implements runtimev1.RuntimeServiceServer.
func (s *runtimeService) Read(_ context.Context, req *runtimev1.ReadRequest) (*runtimev1.ReadResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	if req.GetName() != "" {
		if _, ok := s.services[req.GetName()]; !ok {
			return nil, noService(req.GetName())
		}
		names = []string{req.GetName()}
	} else {
		for n := range s.services {
			names = append(names, n)
		}
		sort.Strings(names)
	}
	resp := &runtimev1.ReadResponse{}
	for _, n := range names {
		d := s.services[n]
		d.advance()
		svc := proto.Clone(d.svc).(*runtimev1.Service)
		if req.GetName() != "" {
			svc.Sources = s.keptOf(d)
		}
		resp.Services = append(resp.Services, svc)
	}
	return resp, nil
}

// keptOf lists the uploads of d's service, the running one marked.
func (s *runtimeService) keptOf(d *deployment) []*runtimev1.KeptSource {
	var out []*runtimev1.KeptSource
	for _, k := range s.kept[d.svc.GetName()] {
		k = proto.Clone(k).(*runtimev1.KeptSource)
		k.Running = k.GetId() == d.running
		out = append(out, k)
	}
	return out
}

// advance moves the latest generation one step on.
func (d *deployment) advance() {
	if d.step == len(steps)-1 || d.svc.GetStatus() == runtimev1.Status_STATUS_ERROR {
		return
	}
	d.step++
	d.svc.Status = steps[d.step]
	switch {
	case d.fail != "" && d.svc.GetRunningGeneration() > 0:
		// A failed update: the older generation keeps serving.
		d.svc.Status, d.svc.Error, d.step = runtimev1.Status_STATUS_RUNNING, platform.NotTaken(d.svc.GetGeneration(), d.svc.GetRunningGeneration(), d.fail), len(steps)-1
	case d.fail != "" && d.svc.GetStatus() == runtimev1.Status_STATUS_STARTING:
		d.svc.Status, d.svc.Error = runtimev1.Status_STATUS_ERROR, d.fail
		if d.fail == CrashError { // its one instance started, and exits at once
			d.svc.Instances = []*runtimev1.Instance{{
				Number: 1, Generation: d.svc.GetGeneration(), Status: runtimev1.Status_STATUS_ERROR,
				Restarts: 4, LastExit: "exit status 1", Since: timestamp(time.Now()),
			}}
		}
	case d.svc.GetStatus() == runtimev1.Status_STATUS_RUNNING:
		d.svc.RunningGeneration, d.running = d.svc.GetGeneration(), d.svc.GetSource()
		d.svc.Instances = []*runtimev1.Instance{{
			Number: 1, Generation: d.svc.GetGeneration(), Status: runtimev1.Status_STATUS_RUNNING, Since: timestamp(time.Now()),
		}}
	}
}

// Update implements runtimev1.RuntimeServiceServer.
func (s *runtimeService) Update(_ context.Context, req *runtimev1.UpdateRequest) (*runtimev1.UpdateResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.services[req.GetService().GetName()]
	if !ok {
		return nil, noService(req.GetService().GetName())
	}
	src := req.GetService().GetSource()
	if src == "" {
		src = d.svc.GetSource()
	}
	fail, err := s.failureOf(src)
	if err != nil {
		return nil, err
	}
	if req.GetOptions() != nil {
		d.svc.Options = req.GetOptions()
	}
	d.svc.Source, d.svc.Error, d.fail, d.step = src, "", fail, 0
	d.svc.Generation++
	d.svc.Status, d.svc.Updated = steps[0], timestamp(time.Now())
	return &runtimev1.UpdateResponse{Service: proto.Clone(d.svc).(*runtimev1.Service)}, nil
}

// Delete implements runtimev1.RuntimeServiceServer.
func (s *runtimeService) Delete(_ context.Context, req *runtimev1.DeleteRequest) (*runtimev1.DeleteResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.services[req.GetName()]; !ok {
		return nil, noService(req.GetName())
	}
	delete(s.services, req.GetName())
	return &runtimev1.DeleteResponse{}, nil
}

// Logs implements runtimev1.RuntimeServiceServer: two lines of the build
// log, or one line of each instance, after which a followed stream ends
// as it does when the service is deleted.
func (s *runtimeService) Logs(req *runtimev1.LogsRequest, stream grpc.ServerStreamingServer[runtimev1.LogsResponse]) error {
	s.mu.Lock()
	d, ok := s.services[req.GetName()]
	var svc *runtimev1.Service
	logged := true
	if ok {
		// A build that fails starts no instance, and one that crashes
		// at once writes nothing.
		svc, logged = proto.Clone(d.svc).(*runtimev1.Service), d.fail == ""
	}
	s.mu.Unlock()
	if !ok {
		return noService(req.GetName())
	}
	for _, l := range logLines(svc, req.GetBuild(), logged) {
		if err := stream.Send(l); err != nil {
			return err
		}
	}
	return nil
}

// logLines are the lines Logs sends: the build's, or the instances',
// which a service whose instances wrote nothing has none of.
func logLines(svc *runtimev1.Service, build, logged bool) []*runtimev1.LogsResponse {
	if !build && !logged {
		return nil
	}
	if build {
		return []*runtimev1.LogsResponse{
			{Stream: "build", Message: fmt.Sprintf("build %s/%s (package ./.)", svc.GetNamespace(), svc.GetName())},
			{Stream: "build", Message: "build ok"},
		}
	}
	at := timestamp(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	return []*runtimev1.LogsResponse{
		{Time: at, Instance: 1, Stream: "stderr", Message: "serving on the platform"},
		{Time: at, Instance: 2, Stream: "stdout", Message: "greeted name=Ann"},
	}
}

// noService is the runtime's answer about a service it does not have, in
// the runtime's words.
func noService(name string) error {
	return status.Errorf(codes.NotFound, "no service %q in namespace %q", name, Namespace)
}
