// Command hello is a user's service built on the SDK, for the tests that
// run one as a real process: it answers with HELLO_TEXT, and holds a Hold
// call until the file HOLD_DIR/release exists, having written
// HOLD_DIR/held first.
package main

import (
	"context"
	"errors"
	"log"
	"os"
	"path/filepath"
	"time"

	"m3o.dev/pkg/service"
	"m3o.dev/pkg/service/servicetest/hellopb"
)

type hello struct {
	hellopb.UnimplementedHelloServer
	text, holdDir string
}

func (h hello) Call(_ context.Context, req *hellopb.CallRequest) (*hellopb.CallResponse, error) {
	return &hellopb.CallResponse{Message: h.text + " " + req.GetName()}, nil
}

func (h hello) Hold(ctx context.Context, req *hellopb.HoldRequest) (*hellopb.HoldResponse, error) {
	if err := os.WriteFile(filepath.Join(h.holdDir, "held"), []byte(req.GetName()), 0o600); err != nil {
		return nil, err
	}
	for {
		if _, err := os.Stat(filepath.Join(h.holdDir, "release")); err == nil {
			return &hellopb.HoldResponse{Message: "released " + req.GetName()}, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func main() {
	svc := service.New("hello")
	hellopb.RegisterHelloServer(svc, hello{text: os.Getenv("HELLO_TEXT"), holdDir: os.Getenv("HOLD_DIR")})
	if err := svc.Run(); err != nil && !errors.Is(err, context.Canceled) {
		log.Fatal(err)
	}
}
