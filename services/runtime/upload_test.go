package runtime_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
	"m3o.dev/services/internal/statustest"
	"m3o.dev/services/runtime"
	"m3o.dev/services/runtime/source"
)

// tarGz builds an archive of the given headers, each regular file holding
// its header's size in bytes.
func tarGz(t *testing.T, hdrs ...*tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, h := range hdrs {
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write(bytes.Repeat([]byte("x"), int(h.Size)))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	gz.Close()
	return buf.Bytes()
}

func file(name string, size int64) *tar.Header {
	return &tar.Header{Name: name, Typeflag: tar.TypeReg, Size: size}
}

// TestUploadRefusals uploads archives the runtime must refuse: each is
// InvalidArgument and leaves nothing in the store.
func TestUploadRefusals(t *testing.T) {
	e := newEnv(t, options{limits: source.Limits{CompressedBytes: 64 << 10, UnpackedBytes: 1 << 20, Files: 20}})
	c := e.client(t)
	ctx := e.tenant(t, "upload-space", "dev", "developer")
	noise := make([]byte, 128<<10) // random bytes do not compress
	rand.Read(noise)
	many := []*tar.Header{}
	for i := range 21 {
		many = append(many, file(fmt.Sprintf("f%d.go", i), 1))
	}
	tests := []struct {
		name    string
		archive []byte
	}{
		{"absolute path", tarGz(t, file("/etc/cron.d/evil", 3))},
		{"dot-dot", tarGz(t, file("../../escape", 3))},
		{"symlink out of the tree", tarGz(t, &tar.Header{Name: "link", Typeflag: tar.TypeSymlink, Linkname: "../../etc/passwd"})},
		{"hard link", tarGz(t, file("a", 1), &tar.Header{Name: "b", Typeflag: tar.TypeLink, Linkname: "a"})},
		{"device", tarGz(t, &tar.Header{Name: "null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3})},
		{"fifo", tarGz(t, &tar.Header{Name: "pipe", Typeflag: tar.TypeFifo})},
		{"too many files", tarGz(t, many...)},
		{"unpacks too big", tarGz(t, file("big", 2<<20))},
		{"over the compressed limit", noise},
		{"not gzip", []byte("this is not an archive")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := upload(ctx, c, "", "hello", tt.archive)
			statustest.WantCode(t, "Upload()", err, codes.InvalidArgument)
		})
	}
	if keys := append(e.keys(t, "sources", ""), e.keys(t, "chunks", "")...); len(keys) != 0 {
		t.Errorf("refused uploads left %v in the store", keys)
	}
}

// TestUploadRefusesOptionsFirst sends only an upload's first message,
// with options that Create would refuse: the runtime answers before the
// rest of the archive comes, with the code Create gives, and keeps
// nothing. Options that fit pass, and the upload completes.
func TestUploadRefusesOptionsFirst(t *testing.T) {
	e := newEnv(t, options{})
	c := e.client(t)
	ctx := e.tenant(t, "plan-space", "dev", "developer")
	if _, err := c.SetQuota(e.admin, &runtimev1.SetQuotaRequest{Namespace: "plan-space", Quota: &runtimev1.Quota{MemoryMib: 512}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts *runtimev1.Options
		want codes.Code
	}{
		{"over the instance limit", &runtimev1.Options{Instances: runtime.MaxInstances + 1}, codes.InvalidArgument},
		{"reserved variable", &runtimev1.Options{Env: map[string]string{"MICRO_NAMESPACE": "other"}}, codes.InvalidArgument},
		{"past the quota", &runtimev1.Options{Instances: 5, Resources: &runtimev1.Resources{MemoryMib: 128}}, codes.ResourceExhausted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			stream, err := c.Upload(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := stream.Send(&runtimev1.UploadRequest{Name: "hello", Options: tt.opts, Chunk: []byte{0x1f, 0x8b}}); err != nil {
				t.Fatal(err)
			}
			// No CloseSend: the answer must come while the upload is open.
			err = stream.RecvMsg(new(runtimev1.UploadResponse))
			statustest.WantCode(t, "Upload() with options "+tt.opts.String(), err, tt.want)
		})
	}
	if keys := append(e.keys(t, "sources", ""), e.keys(t, "chunks", "")...); len(keys) != 0 {
		t.Errorf("refused uploads left %v in the store", keys)
	}
	stream, err := c.Upload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fits := &runtimev1.Options{Instances: 2, Resources: &runtimev1.Resources{MemoryMib: 128}}
	if err := stream.Send(&runtimev1.UploadRequest{Name: "hello", Options: fits, Chunk: packDir(t, map[string]string{"go.mod": "module hello\n"})}); err != nil {
		t.Fatal(err)
	}
	if resp, err := stream.CloseAndRecv(); err != nil || resp.GetSourceId() == "" {
		t.Errorf("Upload() with options that fit = %v, %v, want a source id", resp, err)
	}
}

// TestUploadKeepsTheLastThree uploads a source bigger than a chunk four
// times: each is stored in chunks, and the oldest is pruned unless the
// service builds from it.
func TestUploadKeepsTheLastThree(t *testing.T) {
	e := newEnv(t, options{})
	c := e.client(t)
	ctx := e.tenant(t, "keep-space", "dev", "developer")
	big := make([]byte, 3<<20)
	rand.Read(big)
	archive := bigArchive(t, big)
	var ids []string
	for range 4 {
		id, err := upload(ctx, c, "", "hello", archive)
		if err != nil {
			t.Fatalf("Upload() = %v", err)
		}
		ids = append(ids, id)
	}
	if chunks := e.keys(t, "chunks", "keep-space/"+ids[3]+"/"); len(chunks) < 3 {
		t.Errorf("a %d-byte upload is stored in %d chunks, want at least 3 of %d bytes", len(archive), len(chunks), runtime.ChunkBytes)
	}
	_, err := c.Create(ctx, &runtimev1.CreateRequest{Service: &runtimev1.Service{Name: "hello", Source: ids[0]}})
	statustest.WantCode(t, "Create from the pruned oldest upload", err, codes.InvalidArgument)
	if _, err := c.Create(ctx, &runtimev1.CreateRequest{Service: &runtimev1.Service{Name: "hello", Source: ids[1]}}); err != nil {
		t.Fatalf("Create(second upload) = %v", err)
	}
	for range 3 {
		if _, err := upload(ctx, c, "", "hello", archive); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.keys(t, "sources", "keep-space/"); len(got) != 4 || !strings.Contains(strings.Join(got, " "), ids[1]) {
		t.Errorf("sources = %v, want the 3 newest and %s, which the service builds from", got, ids[1])
	}
	fetched := fetch(t, e, runtime.Ref{Namespace: "keep-space", Name: "hello"})
	if fetched["blob"] != string(big) {
		t.Errorf("the source fetched back holds %d bytes of blob, want the %d uploaded", len(fetched["blob"]), len(big))
	}
}

// bigArchive is a module whose blob does not compress.
func bigArchive(t *testing.T, blob []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz, _ := gzip.NewWriterLevel(&buf, gzip.NoCompression)
	tw := tar.NewWriter(gz)
	for name, body := range map[string][]byte{"go.mod": []byte("module x\n"), "blob": blob} {
		tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Size: int64(len(body)), Mode: 0o644})
		tw.Write(body)
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

// TestReadListsKeptSources reads a service by name as it moves from one
// upload to the next and back: its kept sources come newest first, the one
// its running generation runs from marked, so that an older one can be run
// again by id; a read of every service lists none.
func TestReadListsKeptSources(t *testing.T) {
	e := newEnv(t, options{})
	c := e.client(t)
	ctx := e.tenant(t, "rollback-space", "dev", "developer")
	var ids []string
	for i := range 2 {
		id, err := upload(ctx, c, "", "hello", packDir(t, map[string]string{"go.mod": "module hello\n", "main.go": fmt.Sprintf("package main\n\nfunc main() {} // %d\n", i)}))
		if err != nil {
			t.Fatalf("Upload() = %v", err)
		}
		ids = append(ids, id)
	}
	kept := func(what string, want ...string) {
		t.Helper()
		resp, err := c.Read(ctx, &runtimev1.ReadRequest{Name: "hello"})
		if err != nil {
			t.Fatalf("%s: Read(hello) = %v", what, err)
		}
		var got []string
		for _, src := range resp.GetServices()[0].GetSources() {
			mark := ""
			if src.GetRunning() {
				mark = " running"
			}
			if src.GetSizeBytes() == 0 || len(src.GetSha256()) != 64 || src.GetUploaded().AsTime().IsZero() {
				t.Errorf("%s: kept source %v lacks its size, checksum or time", what, src)
			}
			got = append(got, src.GetId()+mark)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: kept sources = %v, want %v", what, got, want)
		}
	}
	if _, err := c.Create(ctx, &runtimev1.CreateRequest{Service: &runtimev1.Service{Name: "hello", Source: ids[0]}}); err != nil {
		t.Fatalf("Create() = %v", err)
	}
	kept("created from the first", ids[1], ids[0]+" running")
	update := func(id string) {
		t.Helper()
		if _, err := c.Update(ctx, &runtimev1.UpdateRequest{Service: &runtimev1.Service{Name: "hello", Source: id}}); err != nil {
			t.Fatalf("Update(source %s) = %v", id, err)
		}
	}
	update(ids[1])
	kept("updated to the second", ids[1]+" running", ids[0])
	update(ids[0])
	kept("back to the first", ids[1], ids[0]+" running")
	all, err := c.Read(ctx, &runtimev1.ReadRequest{})
	if err != nil || len(all.GetServices()) != 1 || len(all.GetServices()[0].GetSources()) != 0 {
		t.Errorf("Read(every service) = %v, %v, want hello without its sources", all, err)
	}
}
