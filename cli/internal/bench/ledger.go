package bench

import "sync"

// State is what a key holds as far as the bench can tell: absent, or the
// value of the write with sequence number Seq.
type State struct {
	// Present is false for a key that was deleted or never written.
	Present bool
	// Seq is the sequence number of the write whose value the key holds;
	// it means nothing when Present is false.
	Seq uint64
}

// Absent is the state of a deleted or never written key.
var Absent = State{}

// Written returns the state a write with sequence number seq leaves.
func Written(seq uint64) State { return State{Present: true, Seq: seq} }

// same reports whether a and b are the same state; every absent state is
// the same, whatever delete made it.
func same(a, b State) bool {
	return a.Present == b.Present && (!a.Present || a.Seq == b.Seq)
}

// keyLedger is the history of one key that matters for checking it.
type keyLedger struct {
	// last is the sequence number last handed out for this key.
	last uint64
	// acked is the state the last acknowledged write or delete left.
	acked State
	// doubt holds the states of writes and deletes issued after acked
	// that failed without an answer: each may or may not have happened.
	doubt []State
}

// allows reports whether got is a state the key may hold now: the
// acknowledged one, or one an unanswered operation since may have left.
func (k *keyLedger) allows(got State) bool {
	if same(got, k.acked) {
		return true
	}
	for _, d := range k.doubt {
		if same(got, d) {
			return true
		}
	}
	return false
}

// Ledger records every write and delete the bench issued and which were
// acknowledged, and judges what reads return against it.
//
// Each key must be driven by one client at a time (the bench gives every
// client keys of its own), so that acknowledgements arrive in issue order
// and the last acknowledged operation defines what a read must see.
type Ledger struct {
	mu    sync.Mutex
	keys  map[string]*keyLedger
	stale int
}

// NewLedger returns an empty ledger, in which every key is absent.
func NewLedger() *Ledger {
	return &Ledger{keys: make(map[string]*keyLedger)}
}

// key returns the ledger of key, creating it; l.mu must be held.
func (l *Ledger) key(key string) *keyLedger {
	k, ok := l.keys[key]
	if !ok {
		k = &keyLedger{}
		l.keys[key] = k
	}
	return k
}

// Next hands out the next sequence number of key, for a write or delete
// about to be issued.
func (l *Ledger) Next(key string) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := l.key(key)
	k.last++
	return k.last
}

// Ack records that the operation leaving state s on key was acknowledged.
// Unanswered operations issued before it are forgotten: it was issued after
// them, so it decides what the key holds.
func (l *Ledger) Ack(key string, s State) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := l.key(key)
	k.acked, k.doubt = s, nil
}

// Doubt records that the operation leaving state s on key failed in a way
// that does not say whether it happened (a timeout, a lost connection).
func (l *Ledger) Doubt(key string, s State) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := l.key(key)
	k.doubt = append(k.doubt, s)
}

// Observe judges a read of key made while the bench runs. A read that
// returns anything but what the acknowledged operations left (or what an
// unanswered one may have left) is stale: it is counted, and Observe
// returns false.
func (l *Ledger) Observe(key string, got State) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.key(key).allows(got) {
		return true
	}
	l.stale++
	return false
}

// ObservePresence judges a listing that shows whether key exists but not
// which write it holds; it counts a stale read as Observe does.
func (l *Ledger) ObservePresence(key string, present bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := l.key(key)
	ok := k.acked.Present == present
	for _, d := range k.doubt {
		ok = ok || d.Present == present
	}
	if !ok {
		l.stale++
	}
	return ok
}

// Stale returns how many reads Observe and ObservePresence found stale.
func (l *Ledger) Stale() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stale
}

// Verdict is what reading every key back at the end found.
type Verdict struct {
	// Checked is how many keys were compared.
	Checked int
	// Lost counts keys whose last acknowledged write is not what they
	// hold: an older write, or nothing.
	Lost int
	// Resurrected counts keys whose last acknowledged operation was a
	// delete but which hold a value again.
	Resurrected int
}

// Verify compares what every key holds at the end, final (a key missing
// from it is absent), with what the acknowledged operations left. A key in
// final that the ledger never wrote counts as resurrected: something the
// bench did not leave there came back.
func (l *Ledger) Verify(final map[string]State) Verdict {
	l.mu.Lock()
	defer l.mu.Unlock()
	var v Verdict
	for key, k := range l.keys {
		v.Checked++
		got := final[key]
		switch {
		case k.allows(got):
		case k.acked.Present:
			v.Lost++
		default:
			v.Resurrected++
		}
	}
	for key, got := range final {
		if _, known := l.keys[key]; !known && got.Present {
			v.Checked++
			v.Resurrected++
		}
	}
	return v
}
