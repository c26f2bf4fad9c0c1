package proxy

import (
	"sync"
	"time"

	"m3o.dev/pkg/invoke"
)

// Bounds of the gateway's cache of users' methods.
const (
	// methodTTL is how long a resolved method stands: long enough that a
	// caller's run of calls reads the service's reflection once, short
	// enough that a service updated with a new API is read afresh soon.
	methodTTL = 10 * time.Second
	// maxMethods caps the entries, whatever the callers send.
	maxMethods = 4096
)

// methodKey names a method as one caller asked for it. The Authorization
// header is part of it so that no caller ever uses what another caller's
// call resolved, whatever their namespaces.
type methodKey struct {
	authorization, service, endpoint string
}

// methodCache keeps the methods the gateway resolved through the services'
// reflection for methodTTL, sparing a caller's next calls the reflection's
// round trips.
type methodCache struct {
	now func() time.Time

	mu      sync.Mutex
	entries map[methodKey]cachedMethod
}

type cachedMethod struct {
	method  invoke.Method
	expires time.Time
}

func newMethodCache() *methodCache {
	return &methodCache{now: time.Now, entries: map[methodKey]cachedMethod{}}
}

// get returns the method cached for k, if it still stands.
func (c *methodCache) get(k methodKey) (invoke.Method, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok || !c.now().Before(e.expires) {
		return invoke.Method{}, false
	}
	return e.method, true
}

// put caches m for k. When the cache is full it drops what has expired,
// and everything if that frees nothing.
func (c *methodCache) put(k methodKey, m invoke.Method) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if len(c.entries) >= maxMethods {
		for key, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, key)
			}
		}
		if len(c.entries) >= maxMethods {
			clear(c.entries)
		}
	}
	c.entries[k] = cachedMethod{method: m, expires: now.Add(methodTTL)}
}

// forget drops the method cached for k.
func (c *methodCache) forget(k methodKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, k)
}
