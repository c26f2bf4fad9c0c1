// Package statustest checks the statuses the services answer with, for
// their tests.
package statustest

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Want fails t unless err is a status of code with exactly msg, the one
// sentence its caller reads. call names the call in the failure.
func Want(t testing.TB, call string, err error, code codes.Code, msg string) {
	t.Helper()
	if st := status.Convert(err); st.Code() != code || st.Message() != msg {
		t.Errorf("%s = %v %q, want %v %q", call, st.Code(), st.Message(), code, msg)
	}
}

// WantCode fails t unless err is a status of code, whatever its message:
// for the checks where the code is the whole point, such as a refusal.
func WantCode(t testing.TB, call string, err error, code codes.Code) {
	t.Helper()
	if got := status.Code(err); got != code {
		t.Errorf("%s = %v, want %v", call, err, code)
	}
}
