package proxy

import (
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	// The core APIs register their descriptors, which tell unary methods
	// from streaming ones.
	_ "m3o.dev/proto/m3o/auth/v1"
	_ "m3o.dev/proto/m3o/billing/v1"
	_ "m3o.dev/proto/m3o/config/v1"
	_ "m3o.dev/proto/m3o/registry/v1"
	_ "m3o.dev/proto/m3o/runtime/v1"
	_ "m3o.dev/proto/m3o/store/v1"
)

// methodTable knows which methods of the platform's own APIs are unary.
// Anything it does not know, a user's service among them, is forwarded as a
// stream, which carries unary calls correctly too.
type methodTable struct {
	unaryMethods map[string]bool
}

func newMethodTable() *methodTable {
	t := &methodTable{unaryMethods: make(map[string]bool)}
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		services := fd.Services()
		for i := 0; i < services.Len(); i++ {
			t.addService(services.Get(i))
		}
		return true
	})
	return t
}

func (t *methodTable) addService(sd protoreflect.ServiceDescriptor) {
	methods := sd.Methods()
	for i := 0; i < methods.Len(); i++ {
		md := methods.Get(i)
		if !md.IsStreamingClient() && !md.IsStreamingServer() {
			t.unaryMethods[string(sd.FullName())+"/"+string(md.Name())] = true
		}
	}
}

func (t *methodTable) unary(service, method string) bool {
	return t.unaryMethods[service+"/"+method]
}
