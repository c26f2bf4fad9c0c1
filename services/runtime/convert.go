package runtime

import (
	"context"
	"errors"
	"maps"

	"google.golang.org/protobuf/types/known/timestamppb"

	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
)

// states maps the runtime's states to the proto's.
var states = map[State]runtimev1.Status{
	StatePending:  runtimev1.Status_STATUS_PENDING,
	StateBuilding: runtimev1.Status_STATUS_BUILDING,
	StateStarting: runtimev1.Status_STATUS_STARTING,
	StateRunning:  runtimev1.Status_STATUS_RUNNING,
	StateError:    runtimev1.Status_STATUS_ERROR,
	StateStopped:  runtimev1.Status_STATUS_STOPPED,
}

// toProto returns the record with the backend's view of it. A service the
// backend was not given yet, as after a restart before it is started
// again, is pending; one stopped until payment resumes is stopped, with
// the reason.
func (s *Service) toProto(ctx context.Context, rec record) *runtimev1.Service {
	out := &runtimev1.Service{
		Name: rec.Name, Version: rec.Version, Source: rec.Source, Metadata: rec.Metadata,
		Namespace: rec.Namespace, Created: timestamppb.New(rec.Created), Updated: timestamppb.New(rec.Updated),
		Generation: rec.Generation, Status: runtimev1.Status_STATUS_PENDING,
		Options: &runtimev1.Options{
			Env: maps.Clone(rec.Options.Env), Instances: uint32(rec.Options.Instances),
			Resources: &runtimev1.Resources{CpuMillis: rec.Options.Resources.CPUMillis, MemoryMib: rec.Options.Resources.MemoryMiB},
		},
	}
	st, err := s.backend.Status(ctx, rec.ref())
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			s.log.WarnContext(ctx, "status of a service", "namespace", rec.Namespace, "service", rec.Name, "error", err)
		}
		if reason, unpaid := s.unpaid(rec.Namespace); unpaid {
			out.Status, out.Error = runtimev1.Status_STATUS_STOPPED, reason
		}
		return out
	}
	if st.Generation >= rec.Generation {
		out.Status, out.Error = states[st.State], st.Reason
		// Noted as soon as a reader sees it, not a reconciliation later:
		// a restart in between would run the older generation first.
		if err := s.noteRan(ctx, rec, st); err != nil {
			s.log.WarnContext(ctx, "note the generation that runs", "namespace", rec.Namespace, "service", rec.Name, "error", err)
		}
	}
	out.RunningGeneration = st.RunningGeneration
	for _, inst := range st.Instances {
		out.Instances = append(out.Instances, instanceToProto(inst))
	}
	return out
}

// sourcesToProto lists the sources kept of rec's service, newest first,
// marking the one that generation running builds from. When they cannot
// be read the answer goes without them: the service's own state is what
// it is for.
func (s *Service) sourcesToProto(ctx context.Context, rec record, running uint64) []*runtimev1.KeptSource {
	metas, err := s.sources.of(ctx, rec.Namespace, rec.Name)
	if err != nil {
		s.log.WarnContext(ctx, "list kept sources", "namespace", rec.Namespace, "service", rec.Name, "error", err)
		return nil
	}
	out := make([]*runtimev1.KeptSource, 0, len(metas))
	for _, m := range metas {
		out = append(out, &runtimev1.KeptSource{
			Id: m.ID, Uploaded: timestamppb.New(m.Uploaded), SizeBytes: uint64(m.Size), Sha256: m.SHA256,
			Running: m.ID == rec.resolvedAt(running),
		})
	}
	return out
}

func instanceToProto(inst InstanceStatus) *runtimev1.Instance {
	return &runtimev1.Instance{
		Number: uint32(inst.Number), Generation: inst.Generation, Status: states[inst.State],
		Restarts: uint32(inst.Restarts), LastExit: inst.LastExit, Since: timestamppb.New(inst.Since),
	}
}

func logToProto(l LogLine) *runtimev1.LogsResponse {
	out := &runtimev1.LogsResponse{Instance: uint32(l.Instance), Message: l.Text, Stream: l.Stream}
	if !l.Time.IsZero() {
		out.Time = timestamppb.New(l.Time)
	}
	return out
}
