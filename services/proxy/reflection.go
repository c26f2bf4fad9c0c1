package proxy

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	v1reflectiongrpc "google.golang.org/grpc/reflection/grpc_reflection_v1"
	v1alphareflectiongrpc "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"m3o.dev/pkg/grpcserver"
	"m3o.dev/pkg/platform"
)

// The services the proxy's own gRPC server answers: health, and the two
// versions of reflection that clients speak.
const (
	healthService    = "grpc.health.v1.Health"
	reflectionV1     = "grpc.reflection.v1.ServerReflection"
	reflectionV1alph = "grpc.reflection.v1alpha.ServerReflection"
)

// coreReflection answers server reflection for the core services' APIs
// from the descriptors linked into the proxy, so that grpcurl, Postman or
// Evans pointed at the proxy can list and describe m3o.* without the
// proto files. It describes the API only, so it needs no token, as
// reflection on the core services themselves does not.
type coreReflection struct {
	v1      v1reflectiongrpc.ServerReflectionServer
	v1alpha v1alphareflectiongrpc.ServerReflectionServer
}

func newCoreReflection() *coreReflection {
	opts := reflection.ServerOptions{
		Services:           coreAPIs(),
		DescriptorResolver: protoregistry.GlobalFiles,
		ExtensionResolver:  protoregistry.GlobalTypes,
	}
	return &coreReflection{v1: reflection.NewServerV1(opts), v1alpha: reflection.NewServer(opts)}
}

// serve answers a reflection stream of the proxy's own, reporting false
// for any other method.
func (r *coreReflection) serve(method string, ss grpc.ServerStream) (bool, error) {
	switch method {
	case "/" + reflectionV1 + "/ServerReflectionInfo":
		return true, r.v1.ServerReflectionInfo(&grpc.GenericServerStream[v1reflectiongrpc.ServerReflectionRequest, v1reflectiongrpc.ServerReflectionResponse]{ServerStream: ss})
	case "/" + reflectionV1alph + "/ServerReflectionInfo":
		return true, r.v1alpha.ServerReflectionInfo(&grpc.GenericServerStream[v1alphareflectiongrpc.ServerReflectionRequest, v1alphareflectiongrpc.ServerReflectionResponse]{ServerStream: ss})
	}
	return false, nil
}

// serviceList is a fixed list of services for reflection.
type serviceList map[string]grpc.ServiceInfo

// GetServiceInfo implements reflection.ServiceInfoProvider; reflection
// reads only the names.
func (l serviceList) GetServiceInfo() map[string]grpc.ServiceInfo { return l }

// coreAPIs lists every service of the core packages, and the proxy's own.
func coreAPIs() serviceList {
	out := serviceList{healthService: {}, reflectionV1: {}, reflectionV1alph: {}}
	for _, s := range platform.CoreServices {
		if s.Package == "" {
			continue
		}
		protoregistry.GlobalFiles.RangeFilesByPackage(protoreflect.FullName(s.Package), func(fd protoreflect.FileDescriptor) bool {
			for i := range fd.Services().Len() {
				out[string(fd.Services().Get(i).FullName())] = grpc.ServiceInfo{}
			}
			return true
		})
	}
	return out
}

// ownService reports whether full is a method of the proxy's own health or
// reflection services, which a micro-service header sends on to a user's
// service instead.
func ownService(full string) bool {
	service, _, _ := grpcserver.SplitMethod(full)
	return service == healthService || service == reflectionV1 || service == reflectionV1alph
}

// hasServiceHeader reports whether the call names a user's service.
func hasServiceHeader(ctx context.Context) bool {
	md, _ := metadata.FromIncomingContext(ctx)
	return len(md.Get(platform.ServiceHeader)) > 0
}

// streamInterceptor sends health and reflection streams that name a user's
// service to it, and answers reflection for the core APIs itself.
func (p *Proxy) streamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if !ownService(info.FullMethod) {
		return h(srv, ss)
	}
	if hasServiceHeader(ss.Context()) {
		return p.handle(srv, ss)
	}
	if ok, err := p.reflection.serve(info.FullMethod, ss); ok {
		return err
	}
	return h(srv, ss)
}

// unaryInterceptor sends unary health calls that name a user's service to
// it.
func (p *Proxy) unaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if !strings.HasPrefix(info.FullMethod, "/"+healthService+"/") || !hasServiceHeader(ctx) {
		return h(ctx, req)
	}
	return p.forwardDecoded(ctx, info.FullMethod, req)
}

// forwardDecoded forwards a unary call whose request the server has
// already decoded, and returns the backend's answer as a frame.
func (p *Proxy) forwardDecoded(ctx context.Context, full string, req any) (any, error) {
	r, err := p.route(ctx, full)
	if err != nil {
		return nil, err
	}
	payload, err := proto.Marshal(req.(proto.Message))
	if err != nil {
		return nil, err
	}
	var resp frame
	var header, trailer metadata.MD
	err = r.conn.Invoke(r.ctx, full, &frame{payload: payload}, &resp,
		grpc.ForceCodec(rawCodec{}), grpc.Header(&header), grpc.Trailer(&trailer))
	if len(header) > 0 {
		_ = grpc.SetHeader(ctx, header)
	}
	_ = grpc.SetTrailer(ctx, trailer)
	if err != nil {
		return nil, err
	}
	return &resp, nil
}
