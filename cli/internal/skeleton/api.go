package skeleton

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// api is the skeleton's proto API: one service with one unary method.
// The .proto file and the descriptor the Go code is generated from are
// both rendered from it, so they cannot disagree.
type api struct {
	n names
	// header is the file's leading comment.
	header string
	// service, method, request, name, response and message comment the
	// service, its method, the request and its field, and the response
	// and its field.
	service, method, request, name, response, message string
}

// newAPI describes the API of the service n names.
func newAPI(n names) api {
	return api{
		n:        n,
		header:   fmt.Sprintf("The API of the %s service, written by `micro new`.", n.Service),
		service:  fmt.Sprintf("%s greets its callers.", n.ProtoService),
		method:   "Call answers with a greeting for the name.",
		request:  "CallRequest names who to greet.",
		name:     "Name of the one greeted; required.",
		response: "CallResponse is the greeting.",
		message:  "Message is the greeting: the greeting text, then the name.",
	}
}

// goPackage is the proto file's go_package option.
func (a api) goPackage() string {
	return a.n.Module + "/proto;" + a.n.GoPackage
}

// protoFile renders the API as a .proto file.
func (a api) protoFile() string {
	var b strings.Builder
	comment(&b, "", a.header)
	fmt.Fprintf(&b, "syntax = \"proto3\";\n\npackage %s;\n\noption go_package = %q;\n\n", a.n.ProtoPackage, a.goPackage())
	comment(&b, "", a.service)
	fmt.Fprintf(&b, "service %s {\n", a.n.ProtoService)
	comment(&b, "  ", a.method)
	b.WriteString("  rpc Call(CallRequest) returns (CallResponse);\n}\n\n")
	comment(&b, "", a.request)
	b.WriteString("message CallRequest {\n")
	comment(&b, "  ", a.name)
	b.WriteString("  string name = 1;\n}\n\n")
	comment(&b, "", a.response)
	b.WriteString("message CallResponse {\n")
	comment(&b, "  ", a.message)
	b.WriteString("  string message = 1;\n}\n")
	return b.String()
}

// comment writes text as a // comment line.
func comment(b *strings.Builder, indent, text string) {
	fmt.Fprintf(b, "%s// %s\n", indent, text)
}

// Paths into a FileDescriptorProto, for SourceCodeInfo: the field numbers
// of message_type, service, field and method, and of syntax.
const (
	pathSyntax  = 12
	pathMessage = 4
	pathService = 6
	pathField   = 2
	pathMethod  = 2
)

// descriptor returns the API as protoc would parse the .proto file,
// comments included, so that the generated code carries them.
func (a api) descriptor() *descriptorpb.FileDescriptorProto {
	str := descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum()
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()
	field := func(name string) *descriptorpb.FieldDescriptorProto {
		return &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(1), Label: opt, Type: str, JsonName: proto.String(name)}
	}
	pkg := "." + a.n.ProtoPackage + "."
	return &descriptorpb.FileDescriptorProto{
		Name:    proto.String(a.n.ProtoFile),
		Package: proto.String(a.n.ProtoPackage),
		Syntax:  proto.String("proto3"),
		Options: &descriptorpb.FileOptions{GoPackage: proto.String(a.goPackage())},
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("CallRequest"), Field: []*descriptorpb.FieldDescriptorProto{field("name")}},
			{Name: proto.String("CallResponse"), Field: []*descriptorpb.FieldDescriptorProto{field("message")}},
		},
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name: proto.String(a.n.ProtoService),
			Method: []*descriptorpb.MethodDescriptorProto{{
				Name: proto.String("Call"), InputType: proto.String(pkg + "CallRequest"), OutputType: proto.String(pkg + "CallResponse"),
			}},
		}},
		SourceCodeInfo: a.comments(),
	}
}

// comments returns the leading comment of each element.
func (a api) comments() *descriptorpb.SourceCodeInfo {
	loc := func(text string, path ...int32) *descriptorpb.SourceCodeInfo_Location {
		return &descriptorpb.SourceCodeInfo_Location{Path: path, Span: []int32{0, 0, 0}, LeadingComments: proto.String(" " + text + "\n")}
	}
	return &descriptorpb.SourceCodeInfo{Location: []*descriptorpb.SourceCodeInfo_Location{
		loc(a.header, pathSyntax),
		loc(a.service, pathService, 0),
		loc(a.method, pathService, 0, pathMethod, 0),
		loc(a.request, pathMessage, 0),
		loc(a.name, pathMessage, 0, pathField, 0),
		loc(a.response, pathMessage, 1),
		loc(a.message, pathMessage, 1, pathField, 0),
	}}
}
