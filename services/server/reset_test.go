package server_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	authv1 "m3o.dev/proto/m3o/auth/v1"
	"m3o.dev/services/server"
)

// TestResetAdmin resets the admin of a stopped server, refusing while it
// runs, on each store backend: the new password logs in once the server
// is back, and the old one no longer does.
func TestResetAdmin(t *testing.T) {
	tests := []struct {
		name   string
		config func(t *testing.T) server.Config
	}{
		{"pebble", func(t *testing.T) server.Config { return config(t.TempDir()) }},
		{"cockroach", func(t *testing.T) server.Config {
			cfg := config(t.TempDir())
			cfg.Store, cfg.StoreDSN = server.StoreCockroach, freshDatabase(t)
			return cfg
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.config(t)
			r := start(t, cfg)
			if _, err := server.ResetAdmin(t.Context(), cfg, slog.New(slog.DiscardHandler)); !errors.Is(err, server.ErrRunning) {
				t.Fatalf("ResetAdmin(while running) = %v, want ErrRunning", err)
			}
			if err := r.stop(); err != nil {
				t.Fatalf("stop: %v", err)
			}
			password, err := server.ResetAdmin(t.Context(), cfg, slog.New(slog.DiscardHandler))
			if err != nil || len(password) < 16 {
				t.Fatalf("ResetAdmin(stopped) = %q, %v, want a new long password", password, err)
			}
			r = start(t, cfg)
			client := authv1.NewAuthServiceClient(r.client(t))
			if _, err := client.Token(t.Context(), &authv1.TokenRequest{Id: "admin", Secret: password}); err != nil {
				t.Errorf("Token(admin, new password) = %v", err)
			}
			_, err = client.Token(t.Context(), &authv1.TokenRequest{Id: "admin", Secret: adminPassword})
			if status.Code(err) != codes.Unauthenticated {
				t.Errorf("Token(admin, old password) = %v, want Unauthenticated", err)
			}
		})
	}
}

// TestResetAdminNeedsData refuses a data dir no server has run on.
func TestResetAdminNeedsData(t *testing.T) {
	_, err := server.ResetAdmin(t.Context(), config(t.TempDir()), slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "no micro server data") {
		t.Errorf("ResetAdmin(empty data dir) = %v, want a refusal naming the missing data", err)
	}
}

// TestSecondServerRefused checks that the data dir's lock keeps a second
// server off a running one's data, whatever its store.
func TestSecondServerRefused(t *testing.T) {
	cfg := config(t.TempDir())
	start(t, cfg)
	if _, err := server.Start(t.Context(), cfg, slog.New(slog.DiscardHandler), nil); !errors.Is(err, server.ErrRunning) {
		t.Errorf("Start(a running server's data dir) = %v, want ErrRunning", err)
	}
}

// freshDatabase creates an empty PostgreSQL database for one test.
func freshDatabase(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("MICRO_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Fatal("MICRO_TEST_POSTGRES_DSN is not set; run the tests through scripts/with-postgres.sh")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("server_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Replace(dsn, "/"+cfg.Database+"?", "/"+name+"?", 1)
}
