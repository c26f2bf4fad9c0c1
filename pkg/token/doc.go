// Package token signs and verifies the platform's access tokens: JWTs signed
// with Ed25519 (alg EdDSA) that carry a kid header naming the signing key.
//
// The auth service holds the private keys and signs with a Signer. Every
// other service fetches the public keys once, keeps them in a KeySet, and
// verifies each request's token locally with a Verifier, so that no request
// costs a call to auth. The Verifier remembers tokens it has verified until
// they expire, which keeps the signature check off the hot path; removing a
// key from the KeySet forgets every token that key signed.
//
// Keys rotate with overlap: the new key is added to every KeySet before auth
// signs with it, and the old one is removed only after the last token it
// signed has expired.
package token
