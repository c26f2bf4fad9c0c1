package command

import (
	"context"
	"errors"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	grpcmetadata "google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"m3o.dev/cli/internal/session"
	"m3o.dev/pkg/invoke"
	"m3o.dev/pkg/platform"
	registryv1 "m3o.dev/proto/m3o/registry/v1"
)

// defaultCallTimeout bounds a call, reflection included.
const defaultCallTimeout = 30 * time.Second

// callCommand is `micro call`.
func (a *app) callCommand() *cli.Command {
	return &cli.Command{
		Name:  "call",
		Usage: "call a method of one of your services with a JSON request and print the response",
		Description: "METHOD is Service.Method, package.Service.Method or /package.Service/Method. The request\n" +
			"is encoded with the descriptors the service publishes through server reflection; JSON\n" +
			"defaults to {} and - reads it from stdin. A method that streams its responses prints\n" +
			"each as it comes. Without METHOD it lists the methods the service registered.",
		ArgsUsage: "SERVICE [METHOD [JSON]]",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "metadata", Usage: "send the gRPC metadata `KEY=VALUE`; repeat for more"},
			&cli.DurationFlag{Name: "timeout", Value: defaultCallTimeout, Usage: "give up after `DURATION`"},
		},
		Action: a.remote(a.call),
	}
}

// call resolves the method through reflection and calls it.
func (a *app) call(c *cli.Context, conn *session.Conn) error {
	service, method := c.Args().Get(0), c.Args().Get(1)
	if method == "" {
		return a.listMethods(c, conn, service)
	}
	body, err := a.requestBody(c.Args().Get(2))
	if err != nil {
		return err
	}
	md, err := callMetadata(service, c.StringSlice("metadata"))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Context, c.Duration("timeout"))
	defer cancel()
	client := invoke.New(conn.Client(), md)
	m, err := client.Resolve(ctx, method)
	if err != nil {
		return a.notRunning(ctx, conn, service, callFailed(err, service, method))
	}
	var trailer grpcmetadata.MD
	err = client.Call(ctx, m, body, func(resp []byte) error {
		_, err := a.stdout.Write(append(resp, '\n'))
		return err
	}, grpc.Trailer(&trailer))
	if by := trailer.Get(platform.AnsweredByTrailer); err != nil && len(by) > 0 {
		return serviceAnswer(by[0], err)
	}
	if st, ok := sentStatus(err); ok && (st.Code() == codes.Unknown || st.Code() == codes.Internal) {
		return maybeServiceFailure(st, service, method)
	}
	return callFailed(err, service, method)
}

// notRunning is err, or, when it says that service does not run and the
// name is a typo of one that does, the same with that one's name.
func (a *app) notRunning(ctx context.Context, conn *session.Conn, service string, err error) error {
	st, ok := sentStatus(err)
	if !ok || st.Code() != codes.NotFound || st.Message() != platform.NotRunning(service, a.scope.namespace) {
		return err
	}
	resp, lerr := registryv1.NewRegistryServiceClient(conn.Client()).ListServices(ctx, &registryv1.ListServicesRequest{})
	if lerr != nil {
		return err
	}
	names := map[string][]string{}
	for _, s := range resp.GetServices() {
		names[s.GetName()] = []string{s.GetName()}
	}
	near := nearest(names, service)
	if near == "" || near == service {
		return err
	}
	return failf(ExitNotFound, codes.NotFound, "Service '%s' is not running in namespace '%s'. Did you mean '%s'?", service, a.scope.namespace, near)
}

// maybeServiceFailure is a call ended with Unknown or Internal, which the
// proxy cannot mark as the service's (the transport ends calls so too),
// but which a handler's plain Go error or panic gives: where to look.
func maybeServiceFailure(st *status.Status, service, method string) error {
	return failf(ExitError, st.Code(), "The call to %s of service '%s' ended with %s: %s A handler that returns an error without a gRPC code, or panics, ends a call so; 'micro logs %s' shows what the service logged.",
		method, service, st.Code(), sentence(st.Message()), service)
}

// serviceAnswer is the error of a call the user's service itself ended
// with a status: its code and its words, said to be the service's rather
// than the platform's.
func serviceAnswer(service string, err error) error {
	st := status.Convert(err)
	exit := ExitError
	switch st.Code() {
	case codes.NotFound:
		exit = ExitNotFound
	case codes.PermissionDenied:
		exit = ExitPermissionDenied
	}
	return failf(exit, st.Code(), "Service '%s' answered %s: %s", service, st.Code(), sentence(withViolations(st, st.Message())))
}

// listMethods prints the methods a service registered, for a call that
// names none.
func (a *app) listMethods(c *cli.Context, conn *session.Conn, service string) error {
	methods, err := registeredMethods(c.Context, conn, service, "")
	if err != nil {
		return err
	}
	return a.out.print(map[string][]methodJSON{"methods": methods}, func(t *tabwriter.Writer) {
		row(t, "METHOD", "REQUEST", "RESPONSE")
		for _, m := range methods {
			row(t, m.Name, m.Request, m.Response)
		}
	})
}

// requestBody returns the request: the argument, stdin for "-", or {}.
func (a *app) requestBody(arg string) ([]byte, error) {
	switch arg {
	case "":
		return []byte("{}"), nil
	case "-":
		return io.ReadAll(io.LimitReader(a.stdin, 4<<20))
	}
	return []byte(arg), nil
}

// callMetadata is the metadata of the call: the header that routes it to
// the service, and the user's.
func callMetadata(service string, pairs []string) (grpcmetadata.MD, error) {
	md := grpcmetadata.Pairs(platform.ServiceHeader, service)
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, usageErrorf("--metadata %q must be KEY=VALUE.", p)
		}
		md.Append(strings.ToLower(k), v)
	}
	return md, nil
}

// callFailed turns the errors of resolving and calling a method into
// failures; the statuses of the platform and the service are described as
// every command's are.
func callFailed(err error, service, method string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, invoke.ErrBadName), errors.Is(err, invoke.ErrAmbiguous), errors.Is(err, invoke.ErrClientStreaming):
		return usageErrorf("Cannot call %s of service '%s': %s", method, service, sentence(err.Error()))
	case errors.Is(err, invoke.ErrBadRequest):
		return usageErrorf("Cannot call %s of service '%s': %s", method, service, sentence(detail(err, invoke.ErrBadRequest)))
	case errors.Is(err, invoke.ErrUnknownMethod):
		return failf(ExitNotFound, codes.NotFound, "Cannot call %s of service '%s': %s", method, service, sentence(detail(err, invoke.ErrUnknownMethod)))
	case errors.Is(err, invoke.ErrNoReflection):
		return failf(ExitError, codes.Unimplemented, "Service '%s' does not answer gRPC server reflection, which 'micro call' reads its methods from.", service)
	}
	return err
}

// detail is the message of err without the sentinel it wraps last.
func detail(err, sentinel error) string {
	return strings.TrimSuffix(err.Error(), ": "+sentinel.Error())
}
