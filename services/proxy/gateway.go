package proxy

import (
	"context"
	"fmt"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"

	authv1 "m3o.dev/proto/m3o/auth/v1"
	billingv1 "m3o.dev/proto/m3o/billing/v1"
	configv1 "m3o.dev/proto/m3o/config/v1"
	registryv1 "m3o.dev/proto/m3o/registry/v1"
	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
	storev1 "m3o.dev/proto/m3o/store/v1"
)

// NewGateway returns the HTTP/JSON API of every core service under /v1/,
// and of the caller's own services under /v1/call/ (UserCallPath). It
// calls the proxy's own public gRPC port through conn, so HTTP callers
// meet exactly the same authentication, rules and rate limits; the
// Authorization header travels as gRPC metadata, and gRPC codes come back
// as HTTP statuses (Unauthenticated as 401, PermissionDenied as 403, ...).
func NewGateway(ctx context.Context, conn *grpc.ClientConn) (http.Handler, error) {
	mux := runtime.NewServeMux(gatewayOptions()...)
	for _, register := range []func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error{
		registerAuth,
		registerRest,
	} {
		if err := register(ctx, mux, conn); err != nil {
			return nil, fmt.Errorf("register gateway handlers: %w", err)
		}
	}
	if err := registerUserCalls(mux, conn, newMethodCache()); err != nil {
		return nil, fmt.Errorf("register the gateway to users' services: %w", err)
	}
	return mux, nil
}

func registerAuth(ctx context.Context, mux *runtime.ServeMux, conn *grpc.ClientConn) error {
	for _, err := range []error{
		authv1.RegisterAuthServiceHandlerClient(ctx, mux, authv1.NewAuthServiceClient(conn)),
		authv1.RegisterAccountsServiceHandlerClient(ctx, mux, authv1.NewAccountsServiceClient(conn)),
		authv1.RegisterRulesServiceHandlerClient(ctx, mux, authv1.NewRulesServiceClient(conn)),
		authv1.RegisterSignupServiceHandlerClient(ctx, mux, authv1.NewSignupServiceClient(conn)),
		authv1.RegisterInviteServiceHandlerClient(ctx, mux, authv1.NewInviteServiceClient(conn)),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

func registerRest(ctx context.Context, mux *runtime.ServeMux, conn *grpc.ClientConn) error {
	for _, err := range []error{
		storev1.RegisterStoreServiceHandlerClient(ctx, mux, storev1.NewStoreServiceClient(conn)),
		configv1.RegisterConfigServiceHandlerClient(ctx, mux, configv1.NewConfigServiceClient(conn)),
		registryv1.RegisterRegistryServiceHandlerClient(ctx, mux, registryv1.NewRegistryServiceClient(conn)),
		runtimev1.RegisterRuntimeServiceHandlerClient(ctx, mux, runtimev1.NewRuntimeServiceClient(conn)),
		billingv1.RegisterBillingServiceHandlerClient(ctx, mux, billingv1.NewBillingServiceClient(conn)),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}
