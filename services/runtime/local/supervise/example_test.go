package supervise_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"m3o.dev/services/runtime/local/build"
	"m3o.dev/services/runtime/local/logs"
	"m3o.dev/services/runtime/local/sandbox"
	"m3o.dev/services/runtime/local/supervise"
	"m3o.dev/services/runtime/source"
)

// Example shows how the local backend puts the leaf packages together for
// one service: a sandbox and namespace, an upload extracted where only the
// namespace can read it, a build, a log, and a supervised instance. It is
// compiled, not run.
func Example() {
	ctx := context.Background()
	// The sandbox lives outside the server's data directory, which stays
	// 0700 so no namespace uid can read the platform's keys.
	sb, err := sandbox.New(sandbox.Config{Dir: "/var/lib/m3o/runtime"})
	if err != nil {
		log.Fatal(err)
	}
	if !sandbox.CanSwitchUsers() {
		fmt.Println("not root: user code runs as the server's own user and is trusted")
	}
	// Before starting anything: kill what a crashed predecessor left.
	if _, err := sandbox.KillOrphans(sb.Dir()); err != nil {
		log.Print(err)
	}
	ns, err := sb.Namespace("brave-otter-lamp")
	if err != nil {
		log.Fatal(err)
	}
	upload, err := os.Open("/var/lib/m3o/uploads/src-1.tar.gz")
	if err != nil {
		log.Fatal(err)
	}
	defer upload.Close()
	src := filepath.Join(ns.SourceDir, "hello-src-1")
	if err := source.Extract(upload, src, source.Limits{}); errors.Is(err, source.ErrInvalidSource) {
		log.Fatal(err) // InvalidArgument, with the message as it is
	}
	b, err := build.New(build.Options{Sandbox: sb, SDKDir: "/usr/lib/m3o/sdk", SDKVersion: "v0.1.0"})
	if err != nil {
		log.Fatal(err)
	}
	res, err := b.Build(ctx, build.Request{Namespace: ns, Service: "hello", Source: src,
		LogPath: "/srv/m3o/data/runtime/logs/brave-otter-lamp/hello.build.log"})
	var failed *build.Error
	if errors.As(err, &failed) {
		log.Fatal(failed.Output) // the service's error reason
	}
	out, err := logs.Open("/srv/m3o/data/runtime/logs/brave-otter-lamp/hello-0", logs.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer out.Close()
	sup, err := supervise.Start(supervise.Config{
		Sandbox: sb, Log: out, MemoryLimitMiB: 512,
		Spec: sandbox.Spec{Namespace: ns, Name: "hello-0", Path: res.Binary,
			Env: []string{"MICRO_NAMESPACE=brave-otter-lamp", "MICRO_SERVICE_NAME=hello"}},
		OnChange: func(st supervise.Status) { fmt.Println(st.State, st.Restarts, st.LastExit) },
	})
	if err != nil {
		log.Fatal(err)
	}
	defer sup.Stop()
}
