package command

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"m3o.dev/cli/internal/session"
	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
)

// maxLogLines is the most lines the runtime sends first.
const maxLogLines = 10000

// logLineJSON is one log line in `--output json`.
type logLineJSON struct {
	Time     *time.Time `json:"time,omitempty"`
	Instance uint32     `json:"instance"`
	Stream   string     `json:"stream"`
	Message  string     `json:"message"`
}

// logs prints a service's log lines, and follows them with -f until
// Ctrl-C or the service's deletion.
func (a *app) logs(c *cli.Context, conn *session.Conn) error {
	req, err := logsRequest(c, a.withNamespace(c.String("namespace")))
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	stream, err := runtimeClient(conn).Logs(ctx, req)
	if err != nil {
		return err
	}
	var lines []logLineJSON
	printed := 0
	for {
		l, err := stream.Recv()
		switch {
		case errors.Is(err, io.EOF), err != nil && ctx.Err() != nil && status.Code(err) == codes.Canceled:
			if printed == 0 && !a.out.json && !req.GetBuild() && !req.GetStream() {
				a.noLines(c.Context, conn, req)
			}
			return a.endLogs(req, lines)
		case err != nil:
			return err
		case a.out.json && !req.GetStream():
			lines = append(lines, logLineOutput(l))
		default:
			if err := a.printLogLine(l); err != nil {
				return err
			}
			printed++
		}
	}
}

// logsRequest is the request the flags ask for.
func logsRequest(c *cli.Context, ns string) (*runtimev1.LogsRequest, error) {
	n := c.Uint("lines")
	if n == 0 || n > maxLogLines {
		return nil, usageErrorf("--lines must be between 1 and %d.", maxLogLines)
	}
	req := &runtimev1.LogsRequest{
		Name: c.Args().First(), Namespace: ns, Stream: c.Bool("follow"), Count: uint32(n), Build: c.Bool("build"),
	}
	if c.IsSet("since") {
		req.Since = timestamppb.New(time.Now().Add(-c.Duration("since")))
	}
	return req, nil
}

// noLines tells a person who got no line where else to look: how an
// instance that ran last exited, or, when none did, the build's log, as
// a service whose build failed has no instance to log anything.
func (a *app) noLines(ctx context.Context, conn *session.Conn, req *runtimev1.LogsRequest) {
	name := req.GetName()
	// Best effort: without the service's status, the build's log is the hint.
	resp, _ := runtimeClient(conn).Read(ctx, &runtimev1.ReadRequest{Name: name, Namespace: req.GetNamespace()})
	for _, svc := range resp.GetServices() {
		if n, exit, ok := lastExit(svc); ok {
			a.notef("No lines from the instances of %s; instance %d last exited with %s. 'micro status %s' shows each one's restarts.", name, n, exit, name)
			return
		}
	}
	a.notef("No lines from the instances of %s. 'micro logs --build %s' prints its latest build's log.", name, name)
}

// endLogs prints what a JSON reading of the latest lines collected.
func (a *app) endLogs(req *runtimev1.LogsRequest, lines []logLineJSON) error {
	if !a.out.json || req.GetStream() {
		return nil
	}
	if lines == nil {
		lines = []logLineJSON{}
	}
	return a.out.encode(map[string][]logLineJSON{"lines": lines})
}

// printLogLine prints one line: "[N] text", "[build] text", or with JSON
// output, when following, one JSON object a line.
func (a *app) printLogLine(l *runtimev1.LogsResponse) error {
	if a.out.json {
		data, err := jsonLine(logLineOutput(l))
		if err != nil {
			return err
		}
		_, err = a.stdout.Write(data)
		return err
	}
	who := "build"
	if l.GetStream() != "build" {
		who = strconv.Itoa(int(l.GetInstance()))
	}
	_, err := fmt.Fprintf(a.stdout, "[%s] %s\n", who, l.GetMessage())
	return err
}

// logLineOutput returns a line as JSON output shows it.
func logLineOutput(l *runtimev1.LogsResponse) logLineJSON {
	out := logLineJSON{Instance: l.GetInstance(), Stream: l.GetStream(), Message: l.GetMessage()}
	if l.GetTime() != nil {
		at := l.GetTime().AsTime()
		out.Time = &at
	}
	return out
}

// jsonLine encodes v as one line of JSON.
func jsonLine(v any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode output: %w", err)
	}
	return append(data, '\n'), nil
}
