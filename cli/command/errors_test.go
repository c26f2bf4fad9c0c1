package command

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/cli/internal/envfile"
	"m3o.dev/cli/internal/platformtest"
	"m3o.dev/cli/internal/session"
	"m3o.dev/pkg/mtls/mtlstest"
)

// withDetails returns a status error carrying details.
func withDetails(t *testing.T, code codes.Code, msg string, details ...*errdetails.ErrorInfo) error {
	t.Helper()
	st := status.New(code, msg)
	for _, d := range details {
		var err error
		if st, err = st.WithDetails(d); err != nil {
			t.Fatal(err)
		}
	}
	return st.Err()
}

func TestStatusExitCodes(t *testing.T) {
	h := newHarness(t)
	h.login()
	addr := h.p.Addr
	tests := []struct {
		name     string
		err      error
		wantExit int
		wantMsg  string
	}{
		{"unauthenticated", status.Error(codes.Unauthenticated, "token revoked"), ExitUnauthenticated,
			"Your session for env 'test' (" + addr + ") has expired or was revoked. Run 'micro login'."},
		{"permission denied", status.Error(codes.PermissionDenied, "not yours"), ExitPermissionDenied,
			"Permission denied in env 'test' for namespace 'micro': not yours."},
		{"payment required", withDetails(t, codes.FailedPrecondition, "the subscription is not active",
			&errdetails.ErrorInfo{Reason: "PAYMENT_REQUIRED", Domain: "m3o.dev"}), ExitPermissionDenied,
			"Payment required in env 'test': the subscription of namespace 'micro' is not active; run 'micro billing portal' to pay."},
		{"payment required, past due", withDetails(t, codes.FailedPrecondition, "Payment required.",
			&errdetails.ErrorInfo{Reason: "PAYMENT_REQUIRED", Domain: "m3o.dev", Metadata: map[string]string{"namespace": "brave-otter-lamp", "status": "past_due"}}), ExitPermissionDenied,
			"Payment required in env 'test': the subscription of namespace 'brave-otter-lamp' is past due; run 'micro billing portal' to pay."},
		{"other precondition", status.Error(codes.FailedPrecondition, "namespace is being deleted"), ExitError,
			"Env 'test' refused the request for namespace 'micro': namespace is being deleted."},
		{"not found", status.Error(codes.NotFound, "no table \"x\""), ExitNotFound,
			"Not found in env 'test' for namespace 'micro': no table \"x\"."},
		{"invalid argument", status.Error(codes.InvalidArgument, "key must not be empty."), ExitError,
			"Invalid request to env 'test': key must not be empty."},
		{"unavailable", status.Error(codes.Unavailable, "store is down"), ExitError,
			"Cannot reach env 'test' at " + addr + ": check the address and your network."},
		{"aborted", status.Error(codes.Aborted, "version is 4, not 3"), ExitError,
			"Conflict in env 'test' for namespace 'micro': version is 4, not 3."},
		{"internal", status.Error(codes.Internal, "internal error"), ExitError,
			"Env 'test' could not complete the request for namespace 'micro': internal error."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.p.FailWith(tt.err)
			defer h.p.FailWith(nil)
			r := h.run("store", "list")
			if r.code != tt.wantExit || r.stderr != tt.wantMsg+"\n" {
				t.Errorf("micro store list failing with %v = exit %d, %q, want %d, %q", tt.err, r.code, r.stderr, tt.wantExit, tt.wantMsg)
			}
			j := h.run("store", "list", "-o", "json")
			e := decodeError(t, j.stdout)
			if j.code != tt.wantExit || e.Error.Code != status.Code(tt.err).String() || e.Error.Message != tt.wantMsg {
				t.Errorf("micro store list -o json failing with %v = exit %d, %+v, want %d, code %s, %q",
					tt.err, j.code, e.Error, tt.wantExit, status.Code(tt.err), tt.wantMsg)
			}
		})
	}
}

// TestViolationsNamedOnce checks that a field violation the platform's
// message already states is not repeated after it, and one it does not
// state is added.
func TestViolationsNamedOnce(t *testing.T) {
	h := newHarness(t)
	h.login()
	badRequest := func(msg string) error {
		st, err := status.New(codes.InvalidArgument, msg).WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
			{Field: "database", Description: "must be 1 to 63 lower-case letters, digits, dashes or underscores"},
		}})
		if err != nil {
			t.Fatal(err)
		}
		return st.Err()
	}
	tests := []struct{ msg, want string }{
		{"database: must be 1 to 63 lower-case letters, digits, dashes or underscores",
			"Invalid request to env 'test': database: must be 1 to 63 lower-case letters, digits, dashes or underscores.\n"},
		{"the request is invalid",
			"Invalid request to env 'test': the request is invalid (database: must be 1 to 63 lower-case letters, digits, dashes or underscores).\n"},
	}
	for _, tt := range tests {
		h.p.FailWith(badRequest(tt.msg))
		if r := h.run("store", "list"); r.stderr != tt.want {
			t.Errorf("micro store list failing with %q: stderr = %q, want %q", tt.msg, r.stderr, tt.want)
		}
	}
	h.p.FailWith(nil)
}

func TestPaymentRequiredReasonInJSON(t *testing.T) {
	h := newHarness(t)
	h.login()
	h.p.FailWith(withDetails(t, codes.FailedPrecondition, "subscription cancelled", &errdetails.ErrorInfo{Reason: "PAYMENT_REQUIRED"}))
	r := h.run("-o", "json", "config", "get")
	if got := decodeError(t, r.stdout).Error.Reason; got != "PAYMENT_REQUIRED" {
		t.Errorf("micro config get, payment required, error reason = %q, want PAYMENT_REQUIRED", got)
	}
}

func TestUnreachable(t *testing.T) {
	h := newHarness(t)
	h.login()
	h.p.Stop()
	r := h.run("store", "list")
	want := "Cannot reach env 'test' at " + h.p.Addr + ": check the address and your network.\n"
	if r.code != ExitError || r.stderr != want {
		t.Errorf("micro store list, nothing listening = exit %d, %q, want %d, %q", r.code, r.stderr, ExitError, want)
	}
}

// TestForeignCertificate checks what a login says of a certificate that
// its env's CA, or without one the system's, did not sign.
func TestForeignCertificate(t *testing.T) {
	h := newHarness(t)
	other := filepath.Join(t.TempDir(), "other.pem")
	if err := os.WriteFile(other, mtlstest.NewCA(t).CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	h.mustRun("env", "add", "spoof", h.p.Addr, "--ca-file", other)
	r := h.runIn(platformtest.Password, "--env", "spoof", "login", "-u", "admin", "--password-stdin")
	want := "Cannot trust env 'spoof' at " + h.p.Addr + ": its certificate is not signed by the CA in " + other + " or does not name " + h.p.Addr + ".\n"
	if r.code != ExitError || r.stderr != want {
		t.Errorf("micro login to a proxy with a foreign certificate = exit %d, %q, want %d, %q", r.code, r.stderr, ExitError, want)
	}

	h.mustRun("env", "add", "plain", h.p.Addr)
	r = h.runIn(platformtest.Password, "--env", "plain", "login", "-u", "admin", "--password-stdin")
	want = "Cannot trust env 'plain' at " + h.p.Addr + ": its certificate is not trusted by this system or does not name " + h.p.Addr +
		". If the platform's admin gave you its CA, add the env again with it: 'micro env del plain', then 'micro env add plain " + h.p.Addr +
		" --ca-file CA.pem' (micro server keeps its CA in ca.pem in its data dir).\n"
	if r.code != ExitError || r.stderr != want {
		t.Errorf("micro login to a proxy whose CA the system does not know = exit %d, %q, want %d, %q", r.code, r.stderr, ExitError, want)
	}
}

func TestDescribe(t *testing.T) {
	local := envfile.Env{Name: envfile.Local, Address: envfile.LocalAddress, CAFile: "/h/.micro/server/ca.pem"}
	staging := envfile.Env{Name: "staging", Address: "s.example.com:443", CAFile: "/ca.pem"}
	ada := envfile.Session{Account: "ada@example.com", AccountID: "ID7", Namespace: "ns-a"}
	tests := []struct {
		name     string
		err      error
		scope    scope
		wantExit int
		wantMsg  string
	}{
		{"local unreachable", status.Error(codes.Unavailable, "connection refused"), scope{env: local}, ExitError,
			"Cannot reach env 'local' at 127.0.0.1:8081: is 'micro server' running?"},
		{"not logged in", session.ErrNotLoggedIn, scope{env: local}, ExitUnauthenticated,
			"Not logged in to env 'local' (127.0.0.1:8081). Run 'micro login'."},
		{"permission denied without a namespace", status.Error(codes.PermissionDenied, "admins only"), scope{env: staging}, ExitPermissionDenied,
			"Permission denied in env 'staging': admins only."},
		{"refusal naming the account by its id", status.Error(codes.PermissionDenied, `ns-a/ID7 may not use namespace "micro"`),
			scope{env: staging, namespace: "micro", account: ada}, ExitPermissionDenied,
			`Permission denied in env 'staging' for namespace 'micro': your account ada@example.com may not use namespace "micro".`},
		{"refusal naming the account as auth does", status.Error(codes.PermissionDenied, `account ID7 of namespace "ns-a" may not manage invites`),
			scope{env: staging, account: ada}, ExitPermissionDenied,
			`Permission denied in env 'staging': your account ada@example.com may not manage invites.`},
		{"refusal naming another account", status.Error(codes.PermissionDenied, `ns-a/ID8 may not use namespace "micro"`),
			scope{env: staging, account: ada}, ExitPermissionDenied,
			`Permission denied in env 'staging': ns-a/ID8 may not use namespace "micro".`},
		{"missing CA of an added env", &session.CAError{Path: "/ca.pem", Err: fs.ErrNotExist}, scope{env: staging}, ExitError,
			"Cannot reach env 'staging': its CA file /ca.pem does not exist."},
		{"unknown env", envfile.ErrUnknownEnv, scope{env: envfile.Env{Name: "nope"}}, ExitNotFound,
			"There is no env 'nope'. Run 'micro env' to list envs."},
		{"corrupt config file", envfile.ErrCorrupt, scope{configPath: "/h/.micro/config.json"}, ExitError,
			"The micro config file is not valid JSON: fix or remove /h/.micro/config.json."},
		{"unexpected error names no chain", fmt.Errorf("read x: %w", errors.New("disk on fire")), scope{}, ExitError,
			"The command did not complete: disk on fire."},
		{"status wrapped in context shows the server's words", fmt.Errorf("upload the source of hello: %w", status.Error(codes.InvalidArgument, "namespace: must be a tenant's")),
			scope{env: staging}, ExitError, "Invalid request to env 'staging': namespace: must be a tenant's."},
		{"multi-line server message", status.Error(codes.Internal, "line one\nline two"), scope{env: staging}, ExitError,
			"Env 'staging' could not complete the request: line one line two."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := describe(tt.err, tt.scope)
			if f.exit != tt.wantExit || f.message != tt.wantMsg {
				t.Errorf("describe(%v) = %d, %q, want %d, %q", tt.err, f.exit, f.message, tt.wantExit, tt.wantMsg)
			}
			if strings.Count(f.message, "\n") != 0 {
				t.Errorf("describe(%v) = %q, want one line", tt.err, f.message)
			}
		})
	}
}
