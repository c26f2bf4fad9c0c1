package skeleton

import (
	"errors"
	"fmt"

	gengo "google.golang.org/protobuf/cmd/protoc-gen-go/internal_gengo"
	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"
)

// generate runs protoc-gen-go's generator and the gRPC generator of this
// package in process over the file, as protoc would run the two plugins
// with paths=source_relative, and returns the files they wrote by path.
func generate(fd *descriptorpb.FileDescriptorProto) (map[string][]byte, error) {
	req := &pluginpb.CodeGeneratorRequest{
		FileToGenerate: []string{fd.GetName()},
		Parameter:      proto.String("paths=source_relative"),
		ProtoFile:      []*descriptorpb.FileDescriptorProto{fd},
	}
	plugin, err := protogen.Options{}.New(req)
	if err != nil {
		return nil, fmt.Errorf("generate %s: %w", fd.GetName(), err)
	}
	for _, f := range plugin.Files {
		if !f.Generate {
			continue
		}
		gengo.GenerateFile(plugin, f)
		if err := generateGRPC(plugin, f); err != nil {
			return nil, err
		}
	}
	plugin.SupportedFeatures = gengo.SupportedFeatures
	resp := plugin.Response()
	if resp.Error != nil {
		return nil, fmt.Errorf("generate %s: %w", fd.GetName(), errors.New(resp.GetError()))
	}
	out := map[string][]byte{}
	for _, f := range resp.GetFile() {
		out[f.GetName()] = []byte(f.GetContent())
	}
	return out, nil
}
