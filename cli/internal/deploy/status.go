package deploy

import (
	"strings"

	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
)

// StatusName is a status as people and scripts see it: pending, building,
// starting, running, error or stopped.
func StatusName(s runtimev1.Status) string {
	if s == runtimev1.Status_STATUS_UNSPECIFIED {
		return "unknown"
	}
	return strings.ToLower(strings.TrimPrefix(s.String(), "STATUS_"))
}

// Instances counts the service's instances that serve, those of its
// running generation that are running, and the instances it asks for.
func Instances(svc *runtimev1.Service) (running, desired int) {
	for _, inst := range svc.GetInstances() {
		if inst.GetStatus() == runtimev1.Status_STATUS_RUNNING && inst.GetGeneration() == svc.GetRunningGeneration() {
			running++
		}
	}
	desired = int(svc.GetOptions().GetInstances())
	if desired == 0 {
		desired = 1
	}
	return running, desired
}
