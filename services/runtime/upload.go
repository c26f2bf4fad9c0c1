package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"google.golang.org/grpc"

	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
	"m3o.dev/services/internal/invalid"
	"m3o.dev/services/runtime/source"
)

// maxUploadChunk is the largest chunk of one UploadRequest.
const maxUploadChunk = 1 << 20

// upload receives a source, checks it by extracting it within the
// platform's limits, and stores it. A refused archive is InvalidArgument
// and leaves nothing behind.
func (s *Service) upload(ctx context.Context, stream grpc.ClientStreamingServer[runtimev1.UploadRequest, runtimev1.UploadResponse]) (*runtimev1.UploadResponse, error) {
	first, err := stream.Recv()
	if errors.Is(err, io.EOF) {
		return nil, invalid.Field("name", "is required in the first message")
	}
	if err != nil {
		return nil, err
	}
	ref, err := validateRef(ctx, first.GetNamespace(), first.GetName())
	if err == nil {
		err = runnable(ref.Namespace)
	}
	if err == nil {
		err = s.checkPlannedOptions(ctx, ref, first.GetOptions())
	}
	if err != nil {
		return nil, err
	}
	f, size, err := s.receive(stream, first)
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	return s.keepUpload(ctx, ref, f, size)
}

// checkPlannedOptions refuses, before a chunk is kept, options that
// Create or Update of the service ref would refuse: over a limit, or past
// the namespace's quota. Nil options are not known yet, and pass.
func (s *Service) checkPlannedOptions(ctx context.Context, ref Ref, o *runtimev1.Options) error {
	if o == nil {
		return nil
	}
	var c invalid.Checker
	opts := checkOptions(&c, o)
	if err := c.Err(); err != nil {
		return err
	}
	return s.checkGrowth(ctx, ref, withDefaults(opts))
}

// keepUpload checks a received archive and stores it.
func (s *Service) keepUpload(ctx context.Context, ref Ref, f *os.File, size int64) (*runtimev1.UploadResponse, error) {
	if err := s.checkArchive(f); err != nil {
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	id, err := s.sources.save(ctx, ref.Namespace, ref.Name, f, size)
	if err != nil {
		return nil, err
	}
	keep := []string{id}
	if rec, err := s.records.get(ctx, ref); err == nil {
		keep = append(keep, rec.keptSources()...)
	}
	if err := s.sources.prune(ctx, ref.Namespace, ref.Name, keep...); err != nil {
		s.log.WarnContext(ctx, "prune old sources", "namespace", ref.Namespace, "service", ref.Name, "error", err)
	}
	return &runtimev1.UploadResponse{SourceId: id, SizeBytes: uint64(size)}, nil
}

// receive writes the stream's chunks to a temporary file, refusing an
// upload over the compressed limit, and returns the file and its size.
func (s *Service) receive(stream grpc.ClientStreamingServer[runtimev1.UploadRequest, runtimev1.UploadResponse], first *runtimev1.UploadRequest) (*os.File, int64, error) {
	f, err := os.CreateTemp(s.opts.TempDir, "upload-*.tar.gz")
	if err != nil {
		return nil, 0, err
	}
	size, err := s.copyChunks(f, stream, first)
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, 0, err
	}
	return f, size, nil
}

// copyChunks writes every chunk of the stream, first included, to w.
func (s *Service) copyChunks(w io.Writer, stream grpc.ClientStreamingServer[runtimev1.UploadRequest, runtimev1.UploadResponse], first *runtimev1.UploadRequest) (int64, error) {
	limit, size := s.compressedLimit(), int64(0)
	for req := first; ; {
		chunk := req.GetChunk()
		if len(chunk) > maxUploadChunk {
			return size, invalid.Field("chunk", "must be at most %d bytes", maxUploadChunk)
		}
		if size += int64(len(chunk)); size > limit {
			return size, invalid.Field("chunk", "the archive is over the platform's limit of %d MiB compressed", limit>>20)
		}
		if _, err := w.Write(chunk); err != nil {
			return size, err
		}
		var err error
		if req, err = stream.Recv(); errors.Is(err, io.EOF) {
			return size, nil
		} else if err != nil {
			return size, err
		}
	}
}

// compressedLimit is the largest upload accepted.
func (s *Service) compressedLimit() int64 {
	if s.opts.Limits.CompressedBytes > 0 {
		return s.opts.Limits.CompressedBytes
	}
	return source.DefaultCompressedBytes
}

// checkArchive extracts the archive into a scratch directory, which is
// what a build will do with it, and removes it: a refused archive is
// refused at upload, with the reason.
func (s *Service) checkArchive(f *os.File) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	dir, cleanup, err := s.tempDir()
	if err != nil {
		return err
	}
	defer cleanup()
	if err := source.Extract(f, dir, s.opts.Limits); err != nil {
		if errors.Is(err, source.ErrInvalidSource) {
			return invalid.Field("chunk", "%v", err)
		}
		return fmt.Errorf("check upload: %w", err)
	}
	return nil
}
