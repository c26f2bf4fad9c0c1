package heldmetrics

import (
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func newCounter(name string) prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: name + " help"})
}

// TestDefaultRegistererHolds checks that the default registerer is the
// holder, so that a registration made during init goes nowhere else.
func TestDefaultRegistererHolds(t *testing.T) {
	if prometheus.DefaultRegisterer != defaultHolder {
		t.Fatalf("prometheus.DefaultRegisterer = %T, want the holder", prometheus.DefaultRegisterer)
	}
}

// TestHoldsUntilRegisterWith checks that held collectors reach the registry
// given to RegisterWith, with their values, that later registrations go
// straight to it, and that a second registry gets them all.
func TestHoldsUntilRegisterWith(t *testing.T) {
	h := &holder{}
	early := newCounter("early_total")
	early.Add(3)
	h.MustRegister(early)
	reg := prometheus.NewRegistry()
	if n, _ := testutil.GatherAndCount(reg); n != 0 {
		t.Fatalf("registry has %d metrics before RegisterWith, want 0", n)
	}
	if err := h.registerWith(reg); err != nil {
		t.Fatalf("registerWith() = %v", err)
	}
	late := newCounter("late_total")
	if err := h.Register(late); err != nil {
		t.Fatalf("Register(late) = %v", err)
	}
	want := "# HELP early_total early_total help\n# TYPE early_total counter\nearly_total 3\n"
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "early_total"); err != nil {
		t.Error(err)
	}
	if n, _ := testutil.GatherAndCount(reg, "late_total"); n != 1 {
		t.Errorf("late_total gathered %d times, want 1", n)
	}
	again := prometheus.NewRegistry()
	if err := h.registerWith(again); err != nil {
		t.Fatalf("registerWith(second registry) = %v", err)
	}
	if n, _ := testutil.GatherAndCount(again, "early_total", "late_total"); n != 2 {
		t.Errorf("a second registry gathered %d of early_total and late_total, want both", n)
	}
}

// TestRegisterWithReportsClashes checks that a held collector whose name
// the registry already has for another collector is reported, and that a
// collector the registry already has is not.
func TestRegisterWithReportsClashes(t *testing.T) {
	h := &holder{}
	shared, clash := newCounter("shared_total"), newCounter("clash_total")
	h.MustRegister(shared, clash)
	reg := prometheus.NewRegistry()
	reg.MustRegister(shared, newCounter("clash_total"))
	err := h.registerWith(reg)
	var are prometheus.AlreadyRegisteredError
	if !errors.As(err, &are) || are.NewCollector != clash {
		t.Errorf("registerWith() = %v, want the clash of clash_total alone", err)
	}
}

// TestUnregister checks that a held collector can be taken back before it
// is registered, and that afterwards Unregister reaches the registry.
func TestUnregister(t *testing.T) {
	h := &holder{}
	gone, kept := newCounter("gone_total"), newCounter("kept_total")
	h.MustRegister(gone, kept)
	if !h.Unregister(gone) {
		t.Fatal("Unregister(held) = false, want true")
	}
	if h.Unregister(gone) {
		t.Error("Unregister(again) = true, want false")
	}
	reg := prometheus.NewRegistry()
	if err := h.registerWith(reg); err != nil {
		t.Fatal(err)
	}
	if n, _ := testutil.GatherAndCount(reg, "gone_total", "kept_total"); n != 1 {
		t.Errorf("gathered %d of gone_total and kept_total, want kept_total only", n)
	}
	if !h.Unregister(kept) {
		t.Error("Unregister(registered) = false, want true")
	}
	if n, _ := testutil.GatherAndCount(reg, "kept_total"); n != 0 {
		t.Errorf("kept_total still gathered after Unregister")
	}
}
