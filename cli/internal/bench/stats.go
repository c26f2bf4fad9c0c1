package bench

import (
	"math"
	"slices"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Recorder collects the latencies and errors of one client's operations.
// It is not safe for concurrent use: each client has its own, and Merge
// combines them at the end.
type Recorder struct {
	ops map[Op]*opRecord
}

// opRecord is what a Recorder keeps for one kind of operation.
type opRecord struct {
	// latencies of the operations that succeeded; failures are left out
	// because a refusal (a rate limit) returns in microseconds and would
	// hide how long the work itself takes.
	latencies []time.Duration
	errors    map[codes.Code]int
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder {
	return &Recorder{ops: make(map[Op]*opRecord)}
}

// op returns the record of op, creating it.
func (r *Recorder) op(op Op) *opRecord {
	rec, ok := r.ops[op]
	if !ok {
		rec = &opRecord{errors: make(map[codes.Code]int)}
		r.ops[op] = rec
	}
	return rec
}

// Done records one operation that took d and ended with err.
func (r *Recorder) Done(op Op, d time.Duration, err error) {
	rec := r.op(op)
	if err != nil {
		rec.errors[status.Code(err)]++
		return
	}
	rec.latencies = append(rec.latencies, d)
}

// Merge adds everything other recorded to r.
func (r *Recorder) Merge(other *Recorder) {
	for op, o := range other.ops {
		rec := r.op(op)
		rec.latencies = append(rec.latencies, o.latencies...)
		for code, n := range o.errors {
			rec.errors[code] += n
		}
	}
}

// OpReport is the summary of one kind of operation.
type OpReport struct {
	// Ops counts the operations that succeeded.
	Ops int `json:"ops"`
	// Errors counts the operations that failed.
	Errors int `json:"errors"`
	// ErrorsByCode counts the failures by gRPC code name.
	ErrorsByCode map[string]int `json:"errors_by_code"`
	// P50Ms, P99Ms and P999Ms are latency percentiles of the operations
	// that succeeded, in milliseconds; MaxMs is the slowest.
	P50Ms  float64 `json:"p50_ms"`
	P99Ms  float64 `json:"p99_ms"`
	P999Ms float64 `json:"p999_ms"`
	MaxMs  float64 `json:"max_ms"`
}

// Summary returns the report of every kind of operation recorded.
func (r *Recorder) Summary() map[Op]OpReport {
	out := make(map[Op]OpReport, len(r.ops))
	for op, rec := range r.ops {
		lat := slices.Clone(rec.latencies)
		slices.Sort(lat)
		rep := OpReport{
			Ops:          len(lat),
			ErrorsByCode: make(map[string]int, len(rec.errors)),
			P50Ms:        millis(percentile(lat, 0.50)),
			P99Ms:        millis(percentile(lat, 0.99)),
			P999Ms:       millis(percentile(lat, 0.999)),
			MaxMs:        millis(percentile(lat, 1)),
		}
		for code, n := range rec.errors {
			rep.Errors += n
			rep.ErrorsByCode[code.String()] += n
		}
		out[op] = rep
	}
	return out
}

// percentile returns the nearest-rank p-quantile of sorted: the smallest
// value that at least p of the values do not exceed; 0 for no values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	// The small slack keeps 0.99×100 (99.00000000000001 in floating
	// point) at rank 99.
	rank := int(math.Ceil(p*float64(len(sorted)) - 1e-9))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// millis returns d in milliseconds, to the microsecond.
func millis(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}
