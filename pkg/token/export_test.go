package token

// CacheLen returns how many tokens v remembers.
func CacheLen(v *Verifier) int { return v.cache.len() }
