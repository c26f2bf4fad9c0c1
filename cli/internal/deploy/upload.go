// Package deploy does the runtime's side of `micro run` and `micro update`:
// it packs and uploads a folder as a service's source, and follows the
// service until the generation it asked for runs or fails.
//
// The runtime has no watch call, so Wait reads the service about once a
// second. A generation has taken when the service runs it
// (running_generation) with status running. It has failed when the
// service is in error, or runs an older generation with an error that says
// why the newer one did not take.
package deploy

import (
	"bytes"
	"context"
	"fmt"

	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
	"m3o.dev/services/runtime/source"
)

// ChunkSize is the most one upload message carries, the runtime's limit.
const ChunkSize = 1 << 20

// Pack returns the gzipped tar of the folder dir that the runtime builds
// from. It leaves out .git and what the folder's .gitignore lists.
func Pack(dir string) ([]byte, error) {
	var b bytes.Buffer
	if err := source.Pack(&b, dir); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Upload sends archive as a source of the service name, in chunks, and
// returns what the runtime stored. Namespace is empty but for an admin
// acting on another namespace. Options, when the service is to run with
// new ones, go first: the runtime refuses options it would not run before
// it takes the archive.
func Upload(ctx context.Context, rt runtimev1.RuntimeServiceClient, name, namespace string, opts *runtimev1.Options, archive []byte) (*runtimev1.UploadResponse, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := rt.Upload(ctx)
	if err != nil {
		return nil, err
	}
	first := &runtimev1.UploadRequest{Name: name, Namespace: namespace, Options: opts}
	for off := 0; off == 0 || off < len(archive); off += ChunkSize {
		req := first
		if off > 0 {
			req = &runtimev1.UploadRequest{}
		}
		req.Chunk = archive[off:min(off+ChunkSize, len(archive))]
		if err := stream.Send(req); err != nil {
			// The server ended the stream; its status says why.
			_, err = stream.CloseAndRecv()
			return nil, fmt.Errorf("upload the source of %s: %w", name, err)
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return nil, fmt.Errorf("upload the source of %s: %w", name, err)
	}
	return resp, nil
}
