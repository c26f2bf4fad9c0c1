package token

import (
	"strings"
	"sync"
	"time"
)

// cache remembers the claims of tokens whose signature and times were
// verified, keyed by the raw token. Only tokens that passed the signature
// check are kept, so an entry's key is as small as the tokens the platform
// signs, whatever callers send. It is only a cache: a miss costs a signature
// check, never a wrong answer. A nil *cache is a valid, always-empty cache.
type cache struct {
	mu      sync.RWMutex
	max     int
	entries map[string]entry
	// swept is when evict last looked at every entry; sweeping at most once
	// a second keeps a cache full of live tokens from costing a full scan
	// on every miss.
	swept time.Time
}

type entry struct {
	claims Claims
	// gen is the KeySet generation the token was verified under; any other
	// generation means a key may have gone and the entry is stale.
	gen uint64
}

func newCache(max int) *cache {
	return &cache{max: max, entries: make(map[string]entry)}
}

// get returns the claims cached under raw if they are still current: same
// key generation and not yet expired.
func (c *cache) get(raw string, gen uint64, now time.Time) (Claims, bool) {
	if c == nil {
		return Claims{}, false
	}
	c.mu.RLock()
	e, ok := c.entries[raw]
	c.mu.RUnlock()
	if !ok || e.gen != gen || !now.Before(e.claims.ExpiresAt) {
		return Claims{}, false
	}
	return e.claims, true
}

// put remembers claims under raw until they expire; claims must not be
// shared with a caller. When the cache is full
// it first drops what is expired or stale, then arbitrary entries, so that
// its size stays bounded whatever callers send.
func (c *cache) put(raw string, claims Claims, gen uint64, now time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[raw]; !ok && len(c.entries) >= c.max {
		c.evict(gen, now)
	}
	// Its own copy, so that the entry does not pin the buffer raw was cut
	// from.
	c.entries[strings.Clone(raw)] = entry{claims: claims, gen: gen}
}

// evict makes room for one entry. The caller holds c.mu.
func (c *cache) evict(gen uint64, now time.Time) {
	if now.Sub(c.swept) >= time.Second || now.Before(c.swept) {
		c.swept = now
		for k, e := range c.entries {
			if e.gen != gen || !now.Before(e.claims.ExpiresAt) {
				delete(c.entries, k)
			}
		}
	}
	// Map iteration order is random, so this drops a random victim.
	for k := range c.entries {
		if len(c.entries) < c.max {
			break
		}
		delete(c.entries, k)
	}
}

// len returns the number of entries, for tests.
func (c *cache) len() int {
	if c == nil {
		return 0
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
