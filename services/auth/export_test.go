package auth

// OpenSealed opens a sealed signing key seed, so that tests can check what
// the store holds against what it must not.
func OpenSealed(k *KeyEncryptionKey, kid string, sealed []byte) ([]byte, error) {
	return k.open(kid, sealed)
}

// Seal seals a signing key seed as the key manager does.
func Seal(k *KeyEncryptionKey, kid string, seed []byte) ([]byte, error) {
	return k.seal(kid, seed)
}

// NewNamespaceName is newNamespaceName, and NameWords its three word
// lists, for the test of generated names.
var (
	NewNamespaceName = newNamespaceName
	NameWords        = [][]string{nameAdjectives, nameAnimals, nameThings}
)
