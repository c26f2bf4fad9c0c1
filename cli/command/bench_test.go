package command

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"m3o.dev/cli/internal/bench"
)

// TestPrintBenchSaysWhetherLimited checks that the report's summary says
// whether the proxy's rate limit refused calls, the one thing that decides
// what its figures measure.
func TestPrintBenchSaysWhetherLimited(t *testing.T) {
	tests := []struct {
		refused int
		want    string
	}{
		{0, "64 clients for 60.0s: 4800.0 ops/s. The proxy's rate limit refused no call.\n"},
		{7, "64 clients for 60.0s: 4800.0 ops/s. The proxy's rate limit refused 7 calls: the figures measure the limit.\n"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		a := newApp(nil, &out, io.Discard)
		rep := bench.Report{Clients: 64, Seconds: 60, OpsPerSecond: 4800, RateLimited: tt.refused}
		if err := a.printBench(rep); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), tt.want) {
			t.Errorf("printBench(rate limited %d) = %q, want a line %q", tt.refused, out.String(), tt.want)
		}
	}
}
