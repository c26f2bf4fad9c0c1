package identity

import (
	"context"
	"strings"

	"google.golang.org/grpc/metadata"
)

// authorizationKey is the gRPC metadata key of the bearer token. gRPC
// lower-cases keys, so this matches whatever case a client sent.
const authorizationKey = "authorization"

// BearerToken returns the token of the single "authorization: Bearer X"
// entry in ctx's incoming metadata, and false when there is none or the
// entry is malformed or repeated.
func BearerToken(ctx context.Context) (string, bool) {
	// ValueFromIncomingContext reads the one key without copying the
	// whole metadata, which FromIncomingContext does on every call.
	vals := metadata.ValueFromIncomingContext(ctx, authorizationKey)
	if len(vals) != 1 {
		return "", false
	}
	return parseBearer(vals[0])
}

// parseBearer takes the token out of "Bearer X". The scheme is matched
// without regard to case, as RFC 7235 says.
func parseBearer(v string) (string, bool) {
	scheme, tok, ok := strings.Cut(v, " ")
	// Two IndexByte scans, which are vectorised, instead of ContainsAny,
	// which walks the token a byte at a time on every call.
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" || strings.IndexByte(tok, ' ') >= 0 || strings.IndexByte(tok, '\t') >= 0 {
		return "", false
	}
	return tok, true
}

// WithBearer returns a context whose outgoing metadata carries tok as the
// bearer token, replacing any token already there, so that a call made with
// it is made on the token holder's behalf.
func WithBearer(ctx context.Context, tok string) context.Context {
	md, _ := metadata.FromOutgoingContext(ctx)
	md = md.Copy()
	md.Set(authorizationKey, "Bearer "+tok)
	return metadata.NewOutgoingContext(ctx, md)
}

// BearerCredentials sends tok as the bearer token of every call on a
// connection, for clients that always act for the same account: pass it to
// grpc.WithPerRPCCredentials. It refuses to travel without TLS.
type BearerCredentials string

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (b BearerCredentials) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{authorizationKey: "Bearer " + string(b)}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials.
func (b BearerCredentials) RequireTransportSecurity() bool { return true }
