package service

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"m3o.dev/pkg/grpcclient"
	"m3o.dev/pkg/platform"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	storev1 "m3o.dev/proto/m3o/store/v1"
)

// dialProxy connects to the proxy over TLS that trusts the identity
// micro/proxy under the platform CA. Like grpc.NewClient it connects on
// first use.
func dialProxy(env Env, c *certs) (*grpc.ClientConn, error) {
	return grpc.NewClient(env.Proxy,
		grpc.WithTransportCredentials(credentials.NewTLS(c.proxyTLS())),
		grpc.WithInitialWindowSize(grpcclient.FlowWindow),
		grpc.WithInitialConnWindowSize(grpcclient.FlowWindow),
	)
}

// newTokens returns the service account's credentials, logging in through
// conn.
func newTokens(env Env, conn *grpc.ClientConn) *tokens {
	return &tokens{
		auth: authv1.NewAuthServiceClient(conn), namespace: env.Namespace,
		id: env.AccountID, secret: env.AccountSecret, now: timeNow,
	}
}

// asAccount is a connection through the proxy on which every call carries
// the service account's token and, when service is set, names the user's
// service it is for.
type asAccount struct {
	conn    *grpc.ClientConn
	creds   credentials.PerRPCCredentials
	service string
}

var _ grpc.ClientConnInterface = asAccount{}

// Invoke implements grpc.ClientConnInterface.
func (a asAccount) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	return a.conn.Invoke(a.context(ctx), method, args, reply, a.options(opts)...)
}

// NewStream implements grpc.ClientConnInterface.
func (a asAccount) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return a.conn.NewStream(a.context(ctx), desc, method, a.options(opts)...)
}

func (a asAccount) context(ctx context.Context) context.Context {
	if a.service == "" {
		return ctx
	}
	md, _ := metadata.FromOutgoingContext(ctx)
	md = md.Copy()
	md.Set(platform.ServiceHeader, a.service)
	return metadata.NewOutgoingContext(ctx, md)
}

func (a asAccount) options(opts []grpc.CallOption) []grpc.CallOption {
	return append([]grpc.CallOption{grpc.PerRPCCredentials(a.creds)}, opts...)
}

// unavailable is the connection of a standalone service, or of one whose
// platform environment is broken: every call fails with its status.
type unavailable struct {
	st *status.Status
}

var _ grpc.ClientConnInterface = unavailable{}

// Invoke implements grpc.ClientConnInterface.
func (u unavailable) Invoke(context.Context, string, any, any, ...grpc.CallOption) error {
	return u.st.Err()
}

// NewStream implements grpc.ClientConnInterface.
func (u unavailable) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, u.st.Err()
}

// standaloneConn fails every call: without the platform there is nothing
// to reach.
var standaloneConn = unavailable{st: status.New(codes.FailedPrecondition,
	"The service runs standalone, without the platform: run it with 'micro run' to reach the store, config and other services.")}

// storeClient is the store as a service sees it: its table is the
// service's name unless a request names another. The database is left to
// the store, which defaults it to the caller's namespace.
type storeClient struct {
	storev1.StoreServiceClient
	table string
}

// withTable returns req, or a copy of it naming the table when it names
// none; the caller's request is never changed.
func withTable[M interface {
	proto.Message
	GetTable() string
}](req M, table string, set func(M, string)) M {
	if req.GetTable() != "" || table == "" {
		return req
	}
	c := proto.CloneOf(req)
	set(c, table)
	return c
}

// Read implements storev1.StoreServiceClient.
func (s storeClient) Read(ctx context.Context, in *storev1.ReadRequest, opts ...grpc.CallOption) (*storev1.ReadResponse, error) {
	return s.StoreServiceClient.Read(ctx, withTable(in, s.table, func(r *storev1.ReadRequest, t string) { r.Table = t }), opts...)
}

// Write implements storev1.StoreServiceClient.
func (s storeClient) Write(ctx context.Context, in *storev1.WriteRequest, opts ...grpc.CallOption) (*storev1.WriteResponse, error) {
	return s.StoreServiceClient.Write(ctx, withTable(in, s.table, func(r *storev1.WriteRequest, t string) { r.Table = t }), opts...)
}

// Delete implements storev1.StoreServiceClient.
func (s storeClient) Delete(ctx context.Context, in *storev1.DeleteRequest, opts ...grpc.CallOption) (*storev1.DeleteResponse, error) {
	return s.StoreServiceClient.Delete(ctx, withTable(in, s.table, func(r *storev1.DeleteRequest, t string) { r.Table = t }), opts...)
}

// List implements storev1.StoreServiceClient.
func (s storeClient) List(ctx context.Context, in *storev1.ListRequest, opts ...grpc.CallOption) (*storev1.ListResponse, error) {
	return s.StoreServiceClient.List(ctx, withTable(in, s.table, func(r *storev1.ListRequest, t string) { r.Table = t }), opts...)
}
