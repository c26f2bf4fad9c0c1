// Package bench drives a load of store, config and service calls through
// the platform's public proxy and checks that nothing acknowledged was
// lost: it is what `micro bench` runs.
//
// Every client owns a set of keys and a config path of its own, so each key
// sees one operation at a time and the last acknowledged write or delete
// says exactly what a read must return. Every value carries the key's
// sequence number; the Ledger records which were acknowledged, counts stale
// reads while the load runs, and at the end, when every key is read back,
// lost writes and resurrected deletes.
package bench

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Op names a kind of operation, as the report shows it.
type Op string

// The operations of the mix.
const (
	StoreRead   Op = "store.read"
	StoreWrite  Op = "store.write"
	StoreDelete Op = "store.delete"
	StoreList   Op = "store.list"
	ConfigGet   Op = "config.get"
	ConfigSet   Op = "config.set"
	Call        Op = "call"
)

// Parts of the mix, the values --mix takes.
const (
	PartStore  = "store"
	PartConfig = "config"
	PartCall   = "call"
)

// weights says how often each operation of a part of the mix runs: reads
// outnumber writes, as in most services, and a delete is rare enough that
// most keys hold a value most of the time.
var weights = map[string][]weighted{
	PartStore:  {{StoreRead, 4}, {StoreWrite, 3}, {StoreDelete, 1}, {StoreList, 1}},
	PartConfig: {{ConfigGet, 2}, {ConfigSet, 1}},
	PartCall:   {{Call, 3}},
}

type weighted struct {
	op     Op
	weight int
}

// Mix is the operations the clients choose from, each as often as its
// weight says.
type Mix struct {
	ops []Op
}

// ParseMix parses the parts of a mix, such as "store,config".
func ParseMix(parts []string) (Mix, error) {
	var m Mix
	seen := map[string]bool{}
	for _, p := range parts {
		p = strings.TrimSpace(p)
		ws, ok := weights[p]
		if !ok {
			return Mix{}, fmt.Errorf("unknown part %q of the mix: use store, config or call", p)
		}
		if seen[p] {
			continue
		}
		seen[p] = true
		for _, w := range ws {
			for range w.weight {
				m.ops = append(m.ops, w.op)
			}
		}
	}
	if len(m.ops) == 0 {
		return Mix{}, fmt.Errorf("the mix is empty: name store, config or call")
	}
	return m, nil
}

// Has reports whether op is part of the mix.
func (m Mix) Has(op Op) bool { return slices.Contains(m.ops, op) }

// Config is what one run of the bench does.
type Config struct {
	// Clients is how many clients run at once, each with its own keys.
	Clients int
	// Duration is how long the clients start new operations.
	Duration time.Duration
	// Mix is the operations they run.
	Mix Mix
	// KeysPerClient is how many store keys each client owns.
	KeysPerClient int
	// RunID makes this run's keys and config paths its own; lower-case
	// letters and digits.
	RunID string
}

// Validate checks c before a run. Its errors start with the name of the
// setting at fault, as "clients: …", so a command can name its flag.
func (c Config) Validate() error {
	switch {
	case c.Clients < 1 || c.Clients > MaxClients:
		return fmt.Errorf("clients: must be from 1 to %d, not %d", MaxClients, c.Clients)
	case c.Duration <= 0 || c.Duration > MaxDuration:
		return fmt.Errorf("duration: must be more than 0 and at most %s, not %s", MaxDuration, c.Duration)
	case c.KeysPerClient < 1 || c.KeysPerClient > MaxKeysPerClient:
		return fmt.Errorf("keys: must be from 1 to %d, not %d", MaxKeysPerClient, c.KeysPerClient)
	case len(c.Mix.ops) == 0:
		return fmt.Errorf("mix: is empty")
	}
	return nil
}

// Limits of a run. A client's list reads all its keys in one page, which
// the store caps at 1000.
const (
	MaxClients       = 1024
	MaxDuration      = 24 * time.Hour
	MaxKeysPerClient = 1000
)

// Report is the result of a run; its JSON form is what `micro bench -o
// json` prints.
type Report struct {
	// Clients and Seconds are what ran: how many clients, for how long.
	Clients int     `json:"clients"`
	Seconds float64 `json:"seconds"`
	// Ops counts the operations that succeeded, OpsPerSecond their rate.
	Ops          int     `json:"ops"`
	OpsPerSecond float64 `json:"ops_per_second"`
	// Errors counts the operations that failed, ErrorsByCode by gRPC code.
	Errors       int            `json:"errors"`
	ErrorsByCode map[string]int `json:"errors_by_code"`
	// RateLimited counts the failures that were the proxy's per-account
	// rate limit, which caps the load a run can make.
	RateLimited int `json:"rate_limited"`
	// Lost, Stale and Resurrected are the consistency findings: see
	// Ledger. Each should be 0.
	Lost        int `json:"lost"`
	Stale       int `json:"stale"`
	Resurrected int `json:"resurrected"`
	// Checked counts the keys and config paths read back at the end.
	Checked int `json:"checked"`
	// ByOp summarises each kind of operation.
	ByOp map[Op]OpReport `json:"by_op"`
}
