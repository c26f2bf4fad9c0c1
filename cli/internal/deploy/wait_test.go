package deploy

import (
	"errors"
	"testing"

	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
)

func TestOutcome(t *testing.T) {
	const (
		pending  = runtimev1.Status_STATUS_PENDING
		building = runtimev1.Status_STATUS_BUILDING
		starting = runtimev1.Status_STATUS_STARTING
		running  = runtimev1.Status_STATUS_RUNNING
		failed   = runtimev1.Status_STATUS_ERROR
		stopped  = runtimev1.Status_STATUS_STOPPED
	)
	tests := []struct {
		name            string
		status          runtimev1.Status
		running, gen    uint64
		reason          string
		done, fail, old bool
	}{
		{name: "created", status: pending, gen: 1},
		{name: "building", status: building, gen: 1},
		{name: "starting", status: starting, gen: 1},
		{name: "running", status: running, running: 1, gen: 1, done: true},
		{name: "a later generation runs", status: running, running: 3, gen: 2, done: true},
		{name: "build failed", status: failed, gen: 1, reason: "build failed", fail: true},
		{name: "stopped", status: stopped, gen: 1, fail: true},
		{name: "older runs while the update builds", status: running, running: 1, gen: 2},
		{name: "update failed", status: running, running: 1, gen: 2, reason: "build failed", fail: true, old: true},
		{name: "restarting after an update", status: pending, running: 1, gen: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc := &runtimev1.Service{Name: "hello", Status: tc.status, RunningGeneration: tc.running, Error: tc.reason}
			done, err := Outcome(svc, tc.gen)
			var f *Failure
			if done != tc.done || errors.As(err, &f) != tc.fail {
				t.Fatalf("Outcome(%s) = %v, %v; want done %v, failure %v", tc.name, done, err, tc.done, tc.fail)
			}
			if f != nil && f.OlderRuns() != tc.old {
				t.Errorf("Outcome(%s).OlderRuns() = %v, want %v", tc.name, f.OlderRuns(), tc.old)
			}
		})
	}
}

func TestInstances(t *testing.T) {
	svc := &runtimev1.Service{
		RunningGeneration: 2,
		Options:           &runtimev1.Options{Instances: 2},
		Instances: []*runtimev1.Instance{
			{Number: 1, Generation: 1, Status: runtimev1.Status_STATUS_RUNNING},
			{Number: 2, Generation: 2, Status: runtimev1.Status_STATUS_RUNNING},
			{Number: 3, Generation: 2, Status: runtimev1.Status_STATUS_STARTING},
		},
	}
	if running, desired := Instances(svc); running != 1 || desired != 2 {
		t.Errorf("Instances = %d/%d, want 1/2: only the running generation's running instances count", running, desired)
	}
	if _, desired := Instances(&runtimev1.Service{}); desired != 1 {
		t.Errorf("Instances of no options: desired %d, want 1", desired)
	}
}

func TestStatusName(t *testing.T) {
	for s, want := range map[runtimev1.Status]string{
		runtimev1.Status_STATUS_PENDING: "pending", runtimev1.Status_STATUS_BUILDING: "building",
		runtimev1.Status_STATUS_STARTING: "starting", runtimev1.Status_STATUS_RUNNING: "running",
		runtimev1.Status_STATUS_ERROR: "error", runtimev1.Status_STATUS_STOPPED: "stopped",
	} {
		if got := StatusName(s); got != want {
			t.Errorf("StatusName(%v) = %q, want %q", s, got, want)
		}
	}
}
