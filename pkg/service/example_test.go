package service_test

import (
	"context"
	"log"

	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/service"
	"m3o.dev/pkg/service/servicetest/hellopb"
	storev1 "m3o.dev/proto/m3o/store/v1"
)

// hello is a user's handler: it keeps a count per caller in the store,
// which is the namespace's database and, by default, the table "hello".
type hello struct {
	hellopb.UnimplementedHelloServer
	store storev1.StoreServiceClient
}

func (h *hello) Call(ctx context.Context, req *hellopb.CallRequest) (*hellopb.CallResponse, error) {
	caller, _ := identity.FromContext(ctx)
	_, err := h.store.Write(ctx, &storev1.WriteRequest{Record: &storev1.Record{Key: "last-caller", Value: []byte(caller.Subject)}})
	if err != nil {
		return nil, err
	}
	return &hellopb.CallResponse{Message: "Hello " + req.GetName()}, nil
}

// A user's service: register handlers on the Service, then Run. The same
// main runs standalone under `go run .` and on the platform under `micro
// run`.
func Example() {
	svc := service.New("hello")
	hellopb.RegisterHelloServer(svc, &hello{store: svc.Store()})
	if err := svc.Run(); err != nil {
		log.Fatal(err)
	}
}
