package rpcerr_test

import (
	"context"
	"errors"
	"testing"

	"m3o.dev/pkg/identity"
	"m3o.dev/services/internal/rpcerr"
)

func TestCaller(t *testing.T) {
	ann := identity.Caller{Namespace: "acme", Subject: "ann"}
	for name, ctx := range map[string]context.Context{
		"no identity":            context.Background(),
		"identity, no namespace": identity.NewContext(context.Background(), identity.Caller{Subject: "ann"}),
	} {
		if _, err := rpcerr.Caller(ctx); !errors.Is(err, rpcerr.ErrUnauthenticated) {
			t.Errorf("%s: got %v, want ErrUnauthenticated", name, err)
		}
	}
	got, err := rpcerr.Caller(identity.NewContext(context.Background(), ann))
	if err != nil || got.String() != ann.String() {
		t.Fatalf("verified caller: got %+v, %v; want %+v", got, err, ann)
	}
}
