package command

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/cli/internal/envfile"
	"m3o.dev/cli/internal/session"
)

// reasonPaymentRequired is the ErrorInfo reason the platform gives when a
// namespace's subscription is not active.
const reasonPaymentRequired = "PAYMENT_REQUIRED"

// reasonSubscriptionEnded is the ErrorInfo reason billing gives when a
// subscription has ended, so only a new one brings it back.
const reasonSubscriptionEnded = "SUBSCRIPTION_ENDED"

// failure is an error as the user sees it: one sentence, an exit code, and
// the gRPC code name that JSON output carries. This file is the only place
// where exit codes are chosen.
type failure struct {
	exit    int
	code    codes.Code
	reason  string
	message string
}

// Error implements error.
func (f *failure) Error() string { return f.message }

// failf returns a failure with the given exit code, gRPC code and message.
func failf(exit int, code codes.Code, format string, args ...any) *failure {
	return &failure{exit: exit, code: code, message: fmt.Sprintf(format, args...)}
}

// usageErrorf returns a usage error, exit code 2.
func usageErrorf(format string, args ...any) *failure {
	return &failure{exit: ExitUsage, code: codes.InvalidArgument, message: fmt.Sprintf(format, args...)}
}

// scope is what an error message names: the env a command talked to and
// the namespace it acted in, as far as the command got.
type scope struct {
	env        envfile.Env
	namespace  string
	configPath string
	// account is the logged-in account, whose id a refusal names.
	account envfile.Session
}

// describe turns any error a command returned into a failure.
func describe(err error, s scope) *failure {
	var f *failure
	if errors.As(err, &f) {
		return f
	}
	if st, ok := sentStatus(err); ok && st.Code() != codes.Unknown {
		return describeStatus(st, s)
	}
	return describeLocal(err, s)
}

// sentStatus is the status err carries, with the message its server sent:
// status.FromError gives a wrapped status the text of the whole chain,
// "rpc error: code = … desc = …" included.
func sentStatus(err error) (*status.Status, bool) {
	var carrier interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &carrier) || carrier.GRPCStatus() == nil {
		return nil, false
	}
	return carrier.GRPCStatus(), true
}

// describeLocal describes errors that happened on this machine.
func describeLocal(err error, s scope) *failure {
	var caErr *session.CAError
	var certErr *session.CertificateError
	var pathErr *fs.PathError
	switch {
	case errors.Is(err, session.ErrNotLoggedIn):
		return notLoggedIn(s.env)
	case errors.As(err, &caErr):
		return describeCA(caErr, s.env)
	case errors.As(err, &certErr):
		return &failure{exit: ExitError, code: codes.Unavailable, message: fmt.Sprintf(
			"Cannot trust env '%s' at %s: its certificate %s.", s.env.Name, s.env.Address, certificateProblem(s.env))}
	case errors.Is(err, envfile.ErrUnknownEnv):
		return &failure{exit: ExitNotFound, code: codes.NotFound, message: fmt.Sprintf(
			"There is no env '%s'. Run 'micro env' to list envs.", s.env.Name)}
	case errors.Is(err, envfile.ErrCorrupt):
		return &failure{exit: ExitError, code: codes.FailedPrecondition, message: fmt.Sprintf(
			"The micro config file is not valid JSON: fix or remove %s.", s.configPath)}
	case errors.As(err, &pathErr):
		return &failure{exit: ExitError, code: codes.Internal, message: fmt.Sprintf(
			"Cannot %s %s: %v.", pathErr.Op, pathErr.Path, pathErr.Err)}
	}
	return &failure{exit: ExitError, code: codes.Unknown, message: "The command did not complete: " + sentence(rootCause(err))}
}

// rootCause returns the message of the innermost error of err's chain: the
// part that means something without the Go context wrapped around it.
func rootCause(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

// notLoggedIn is the error of a command that needs a login to env.
func notLoggedIn(env envfile.Env) *failure {
	hint := "Run 'micro login'"
	if env.Name == envfile.Platform {
		hint += " or 'micro signup'"
	}
	return &failure{exit: ExitUnauthenticated, code: codes.Unauthenticated, message: fmt.Sprintf(
		"Not logged in to env '%s' (%s). %s.", env.Name, env.Address, hint)}
}

// describeCA explains an unusable CA file; for the local env a missing one
// almost always means 'micro server' has never run.
func describeCA(err *session.CAError, env envfile.Env) *failure {
	msg := fmt.Sprintf("Cannot use the CA file %s of env '%s': it holds no PEM certificate.", err.Path, env.Name)
	switch {
	case errors.Is(err, fs.ErrNotExist) && env.Name == envfile.Local:
		msg = fmt.Sprintf("Cannot reach env 'local' at %s: there is no CA file at %s; is 'micro server' running?", env.Address, err.Path)
	case errors.Is(err, fs.ErrNotExist):
		msg = fmt.Sprintf("Cannot reach env '%s': its CA file %s does not exist.", env.Name, err.Path)
	case errors.Is(err, fs.ErrPermission):
		msg = fmt.Sprintf("Cannot read the CA file %s of env '%s': permission denied.", err.Path, env.Name)
	}
	return &failure{exit: ExitError, code: codes.Unavailable, message: msg}
}

// certificateProblem says which trust a certificate failed.
func certificateProblem(env envfile.Env) string {
	if env.CAFile == "" {
		return fmt.Sprintf("is not trusted by this system or does not name %s. If the platform's admin gave you its CA, "+
			"add the env again with it: 'micro env del %s', then 'micro env add %s %s --ca-file CA.pem' "+
			"(micro server keeps its CA in ca.pem in its data dir)", env.Address, env.Name, env.Name, env.Address)
	}
	return fmt.Sprintf("is not signed by the CA in %s or does not name %s", env.CAFile, env.Address)
}

// describeStatus maps a gRPC status from the platform to a failure.
func describeStatus(st *status.Status, s scope) *failure {
	env, msg := s.env, sentence(st.Message())
	f := &failure{exit: ExitError, code: st.Code()}
	switch st.Code() {
	case codes.Unauthenticated:
		f.exit, f.message = ExitUnauthenticated, fmt.Sprintf(
			"Your session for env '%s' (%s) has expired or was revoked. Run 'micro login'.", env.Name, env.Address)
	case codes.PermissionDenied:
		f.exit, f.message = ExitPermissionDenied, fmt.Sprintf("Permission denied in env '%s'%s: %s", env.Name, forNamespace(s), ownAccount(msg, s.account))
	case codes.FailedPrecondition:
		f.message = fmt.Sprintf("Env '%s' refused the request%s: %s", env.Name, forNamespace(s), msg)
		if f.reason = errorReason(st); f.reason == reasonPaymentRequired {
			f.exit, f.message = ExitPermissionDenied, paymentRequired(st, s)
		}
	case codes.NotFound:
		f.exit, f.message = ExitNotFound, fmt.Sprintf("Not found in env '%s'%s: %s", env.Name, forNamespace(s), msg)
	case codes.InvalidArgument, codes.OutOfRange:
		f.message = fmt.Sprintf("Invalid request to env '%s': %s", env.Name, withViolations(st, msg))
	case codes.AlreadyExists:
		f.message = fmt.Sprintf("Already exists in env '%s'%s: %s", env.Name, forNamespace(s), msg)
	case codes.Aborted:
		f.message = fmt.Sprintf("Conflict in env '%s'%s: %s", env.Name, forNamespace(s), msg)
	case codes.ResourceExhausted:
		f.message = fmt.Sprintf("Quota or rate limit reached in env '%s'%s: %s", env.Name, forNamespace(s), msg)
	case codes.Unimplemented:
		f.message = fmt.Sprintf("Env '%s' does not support this command; it may run an older release: %s", env.Name, msg)
	case codes.Unavailable:
		f.message = unreachable(env)
	case codes.DeadlineExceeded:
		f.message = fmt.Sprintf("Env '%s' at %s did not answer in time.", env.Name, env.Address)
	default:
		f.message = fmt.Sprintf("Env '%s' could not complete the request%s: %s", env.Name, forNamespace(s), msg)
	}
	return f
}

// ownAccount names the logged-in account in a refusal by its name where the
// platform, which knows only its id, names it as "NAMESPACE/ID" or as
// "account ID of namespace "NAMESPACE"".
func ownAccount(msg string, acc envfile.Session) string {
	if acc.AccountID == "" || acc.Account == "" {
		return msg
	}
	yours := "your account " + acc.Account
	msg = strings.ReplaceAll(msg, fmt.Sprintf("account %s of namespace %q", acc.AccountID, acc.Namespace), yours)
	return strings.ReplaceAll(msg, acc.Namespace+"/"+acc.AccountID, yours)
}

// unreachable says that env cannot be reached and what to check.
func unreachable(env envfile.Env) string {
	if env.Name == envfile.Local {
		return fmt.Sprintf("Cannot reach env 'local' at %s: is 'micro server' running?", env.Address)
	}
	return fmt.Sprintf("Cannot reach env '%s' at %s: check the address and your network.", env.Name, env.Address)
}

// forNamespace names the namespace of s for a message, if known.
func forNamespace(s scope) string {
	if s.namespace == "" {
		return ""
	}
	return fmt.Sprintf(" for namespace '%s'", s.namespace)
}

// paymentRequired is the one sentence of a call refused for payment: the
// env, the namespace, its subscription's status, and what to run.
func paymentRequired(st *status.Status, s scope) string {
	info := errorInfo(st)
	ns, state := info.GetMetadata()["namespace"], info.GetMetadata()["status"]
	if ns == "" {
		ns = s.namespace
	}
	if state == "" {
		state = "not active"
	}
	return fmt.Sprintf("Payment required in env '%s': the subscription of namespace '%s' is %s; run 'micro billing portal' to pay.",
		s.env.Name, ns, strings.ReplaceAll(state, "_", " "))
}

// errorInfo returns the status's ErrorInfo detail, or nil.
func errorInfo(st *status.Status) *errdetails.ErrorInfo {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info
		}
	}
	return nil
}

// errorReason returns the reason of the status's ErrorInfo detail, if any.
func errorReason(st *status.Status) string {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

// withViolations appends the field violations of a BadRequest detail to msg,
// which the platform may have kept general; those msg already says are not
// said twice.
func withViolations(st *status.Status, msg string) string {
	var fields []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				if field := v.GetField() + ": " + v.GetDescription(); !strings.Contains(msg, field) {
					fields = append(fields, field)
				}
			}
		}
	}
	if len(fields) == 0 {
		return msg
	}
	return strings.TrimSuffix(msg, ".") + " (" + strings.Join(fields, "; ") + ")."
}

// sentence returns msg as the end of a sentence: one line, ending in a full
// stop.
func sentence(msg string) string {
	msg = strings.TrimSpace(strings.ReplaceAll(msg, "\n", " "))
	if msg == "" {
		return "no reason given."
	}
	if strings.HasSuffix(msg, ".") || strings.HasSuffix(msg, "?") || strings.HasSuffix(msg, "!") {
		return msg
	}
	return msg + "."
}
