// Command entrypoint is the entrypoint of the base image a service's pods
// run on Kubernetes: it fetches the service's binary from the runtime over
// mTLS with the instance certificate (package artifact), then becomes it.
//
// It reads M3O_ARTIFACT_URL (where the binary is), MICRO_TLS_DIR (the
// instance's certificate and the platform CA) and M3O_BINARY (where to put
// the binary; default /var/run/m3o/app/service). The service gets the
// environment unchanged.
package main

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"time"

	"m3o.dev/services/runtime/kubernetes/artifact"
)

// fetchTimeout bounds the download; the pod restarts and tries again.
const fetchTimeout = 2 * time.Minute

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "entrypoint:", err)
		os.Exit(1)
	}
}

func run() error {
	url, tlsDir := os.Getenv("M3O_ARTIFACT_URL"), os.Getenv("MICRO_TLS_DIR")
	if url == "" || tlsDir == "" {
		return fmt.Errorf("M3O_ARTIFACT_URL and MICRO_TLS_DIR must be set")
	}
	dst := os.Getenv("M3O_BINARY")
	if dst == "" {
		dst = "/var/run/m3o/app/service"
	}
	ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
	defer cancel()
	if err := artifact.Fetch(ctx, url, tlsDir, dst); err != nil {
		return err
	}
	return syscall.Exec(dst, []string{dst}, os.Environ())
}
