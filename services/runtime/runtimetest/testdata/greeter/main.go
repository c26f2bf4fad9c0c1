// Command greeter is the runtime's test service. It keeps the contract
// between the runtime and an instance by hand, with nothing but gRPC and
// the platform's protos, so that the runtime is tested against the
// contract itself: it serves gRPC health over mTLS on MICRO_ADDRESS with
// the certificate in MICRO_TLS_DIR, logs in through MICRO_PROXY with its
// service account, registers a node whose metadata carries
// MICRO_INSTANCE, heartbeats, and on SIGTERM deregisters and exits 0.
//
// Its own environment steers it: GREETING is printed at start; MODE=crash
// exits 1 at once, MODE=return returns from main at once, MODE=silent never registers and MODE=hog touches
// HOG_MIB MiB of memory, page by page, before it serves; PRINT_ENV=1 prints the
// names of its environment variables; READ_FILE=path tries to read a file
// and prints what happened.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	authv1 "m3o.dev/proto/m3o/auth/v1"
	registryv1 "m3o.dev/proto/m3o/registry/v1"
)

func main() {
	fmt.Println("greeting:", os.Getenv("GREETING"))
	probe()
	switch os.Getenv("MODE") {
	case "crash":
		fmt.Fprintln(os.Stderr, "crashing as asked")
		os.Exit(1)
	case "return":
		return
	case "silent":
		for {
			time.Sleep(time.Hour)
		}
	case "hog":
		hog(os.Getenv("HOG_MIB"))
	}
	if err := serve(); err != nil {
		fmt.Fprintln(os.Stderr, "greeter:", err)
		os.Exit(2)
	}
}

// hogged keeps the hog's memory reachable while the greeter serves.
var hogged []byte

// hog allocates mib MiB and writes to every page of it, so that the pages
// are resident: the runtime's memory watchdog measures what is resident.
func hog(mib string) {
	n, err := strconv.Atoi(mib)
	if err != nil {
		fmt.Fprintln(os.Stderr, "HOG_MIB:", err)
		os.Exit(1)
	}
	hogged = make([]byte, n<<20)
	for i := 0; i < len(hogged); i += 4096 {
		hogged[i] = 1
	}
	fmt.Printf("touched %d MiB\n", n)
}

// probe prints what the test asked to look at.
func probe() {
	if os.Getenv("PRINT_ENV") == "1" {
		var names []string
		for _, kv := range os.Environ() {
			name, _, _ := strings.Cut(kv, "=")
			names = append(names, name)
		}
		slices.Sort(names)
		fmt.Println("env:", strings.Join(names, " "))
	}
	if path := os.Getenv("READ_FILE"); path != "" {
		_, err := os.ReadFile(path)
		fmt.Printf("read %s: %v\n", path, err)
	}
}

// serve listens, registers and heartbeats until SIGTERM.
func serve() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	dir := os.Getenv("MICRO_TLS_DIR")
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	if err != nil {
		return err
	}
	roots, err := rootsFrom(filepath.Join(dir, "ca.pem"))
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", os.Getenv("MICRO_ADDRESS"))
	if err != nil {
		return err
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(&tls.Config{
		MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: roots,
	})))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(lis)
	defer srv.Stop()
	conn, err := grpc.NewClient(os.Getenv("MICRO_PROXY"), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS13, RootCAs: roots})))
	if err != nil {
		return err
	}
	defer conn.Close()
	return heartbeat(ctx, conn, lis.Addr().String())
}

func rootsFrom(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s holds no certificate", file)
	}
	return pool, nil
}

// heartbeat logs in, then registers every few seconds until ctx ends, and
// deregisters.
func heartbeat(ctx context.Context, conn *grpc.ClientConn, addr string) error {
	tok, err := authv1.NewAuthServiceClient(conn).Token(ctx, &authv1.TokenRequest{
		Namespace: os.Getenv("MICRO_NAMESPACE"), Id: os.Getenv("MICRO_ACCOUNT_ID"), Secret: os.Getenv("MICRO_ACCOUNT_SECRET"),
	})
	if err != nil {
		return fmt.Errorf("log in: %w", err)
	}
	authed := func(ctx context.Context) context.Context {
		return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok.GetToken().GetAccessToken())
	}
	reg := registryv1.NewRegistryServiceClient(conn)
	svc := &registryv1.Service{
		Name: os.Getenv("MICRO_SERVICE_NAME"), Version: os.Getenv("MICRO_SERVICE_VERSION"),
		Nodes: []*registryv1.Node{{
			Id: fmt.Sprintf("%s-%d-%d", os.Getenv("MICRO_SERVICE_NAME"), os.Getpid(), time.Now().UnixNano()), Address: addr,
			Metadata: map[string]string{"instance": os.Getenv("MICRO_INSTANCE")},
		}},
	}
	for registered := false; ; {
		_, err := reg.Register(authed(ctx), &registryv1.RegisterRequest{Service: svc, TtlSeconds: 15})
		switch {
		case err != nil && ctx.Err() == nil:
			fmt.Fprintln(os.Stderr, "register:", err)
		case err == nil && !registered:
			fmt.Println("registered", addr)
			registered = true
		}
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := reg.Deregister(authed(dctx), &registryv1.DeregisterRequest{Service: svc})
			fmt.Println("deregistered:", err)
			return nil
		case <-time.After(5 * time.Second):
		}
	}
}
