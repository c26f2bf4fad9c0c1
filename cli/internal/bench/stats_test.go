package bench

import (
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestPercentile(t *testing.T) {
	var lat []time.Duration
	for i := 1; i <= 1000; i++ {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	tests := []struct {
		name   string
		values []time.Duration
		p      float64
		want   time.Duration
	}{
		{"median of 1000", lat, 0.5, 500 * time.Millisecond},
		{"p99 of 1000", lat, 0.99, 990 * time.Millisecond},
		{"p999 of 1000", lat, 0.999, 999 * time.Millisecond},
		{"max", lat, 1, 1000 * time.Millisecond},
		{"p99 of 100", lat[:100], 0.99, 99 * time.Millisecond},
		{"p999 of 10", lat[:10], 0.999, 10 * time.Millisecond},
		{"none", nil, 0.5, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.values, tt.p); got != tt.want {
				t.Errorf("percentile(%d values, %v) = %v, want %v", len(tt.values), tt.p, got, tt.want)
			}
		})
	}
}

func TestRecorderSummary(t *testing.T) {
	a, b := NewRecorder(), NewRecorder()
	a.Done(StoreRead, 3*time.Millisecond, nil)
	b.Done(StoreRead, time.Millisecond, nil)
	b.Done(StoreRead, 50*time.Microsecond, status.Error(codes.ResourceExhausted, "slow down"))
	b.Done(StoreWrite, time.Millisecond, status.Error(codes.Unavailable, "gone"))
	b.Done(StoreWrite, time.Millisecond, errors.New("not a status"))
	a.Merge(b)
	got := a.Summary()
	read := got[StoreRead]
	if read.Ops != 2 || read.Errors != 1 || read.ErrorsByCode["ResourceExhausted"] != 1 {
		t.Errorf("Summary()[store.read] = %+v, want 2 ops and 1 ResourceExhausted", read)
	}
	// The failure's 50µs must not pull the median down.
	if read.P50Ms != 1 || read.MaxMs != 3 {
		t.Errorf("Summary()[store.read] p50 = %vms, max = %vms, want 1 and 3", read.P50Ms, read.MaxMs)
	}
	write := got[StoreWrite]
	if write.Ops != 0 || write.ErrorsByCode["Unavailable"] != 1 || write.ErrorsByCode["Unknown"] != 1 {
		t.Errorf("Summary()[store.write] = %+v, want no ops, 1 Unavailable and 1 Unknown", write)
	}
}
