package bench

import "testing"

// step is one thing that happened to key "k" before the check.
type step func(l *Ledger)

func write(ack bool) step {
	return func(l *Ledger) {
		s := Written(l.Next("k"))
		if ack {
			l.Ack("k", s)
		} else {
			l.Doubt("k", s)
		}
	}
}

func del(ack bool) step {
	return func(l *Ledger) {
		l.Next("k")
		if ack {
			l.Ack("k", Absent)
		} else {
			l.Doubt("k", Absent)
		}
	}
}

func TestVerify(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
		final map[string]State
		want  Verdict
	}{
		{"last write kept", []step{write(true), write(true)}, map[string]State{"k": Written(2)}, Verdict{Checked: 1}},
		{"older write read back", []step{write(true), write(true)}, map[string]State{"k": Written(1)}, Verdict{Checked: 1, Lost: 1}},
		{"acknowledged write gone", []step{write(true)}, nil, Verdict{Checked: 1, Lost: 1}},
		{"delete kept", []step{write(true), del(true)}, nil, Verdict{Checked: 1}},
		{"deleted value back", []step{write(true), del(true)}, map[string]State{"k": Written(1)}, Verdict{Checked: 1, Resurrected: 1}},
		{"unanswered write applied", []step{write(true), write(false)}, map[string]State{"k": Written(2)}, Verdict{Checked: 1}},
		{"unanswered write not applied", []step{write(true), write(false)}, map[string]State{"k": Written(1)}, Verdict{Checked: 1}},
		{"unanswered delete applied", []step{write(true), del(false)}, nil, Verdict{Checked: 1}},
		{"acknowledged write after unanswered one", []step{write(false), write(true)}, map[string]State{"k": Written(1)}, Verdict{Checked: 1, Lost: 1}},
		{"never written key appears", nil, map[string]State{"other": Written(7)}, Verdict{Checked: 1, Resurrected: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLedger()
			for _, s := range tt.steps {
				s(l)
			}
			if got := l.Verify(tt.final); got != tt.want {
				t.Errorf("Verify(%v) = %+v, want %+v", tt.final, got, tt.want)
			}
		})
	}
}

func TestObserve(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
		read  State
		want  bool
	}{
		{"latest write", []step{write(true), write(true)}, Written(2), true},
		{"older write", []step{write(true), write(true)}, Written(1), false},
		{"nothing after a write", []step{write(true)}, Absent, false},
		{"value after a delete", []step{write(true), del(true)}, Written(1), false},
		{"nothing after a delete", []step{write(true), del(true)}, Absent, true},
		{"unanswered write", []step{write(true), write(false)}, Written(2), true},
		{"never written", nil, Absent, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLedger()
			for _, s := range tt.steps {
				s(l)
			}
			if got := l.Observe("k", tt.read); got != tt.want {
				t.Errorf("Observe(k, %+v) = %v, want %v", tt.read, got, tt.want)
			}
			wantStale := 0
			if !tt.want {
				wantStale = 1
			}
			if got := l.Stale(); got != wantStale {
				t.Errorf("Stale() = %d, want %d", got, wantStale)
			}
		})
	}
}

func TestObservePresence(t *testing.T) {
	l := NewLedger()
	write(true)(l)
	if !l.ObservePresence("k", true) {
		t.Error("ObservePresence(k, true) after an acknowledged write = false, want true")
	}
	if l.ObservePresence("k", false) {
		t.Error("ObservePresence(k, false) after an acknowledged write = true, want false")
	}
	del(false)(l)
	if !l.ObservePresence("k", false) {
		t.Error("ObservePresence(k, false) after an unanswered delete = false, want true")
	}
	if got := l.Stale(); got != 1 {
		t.Errorf("Stale() = %d, want 1", got)
	}
}
