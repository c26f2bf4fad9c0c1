// Command hello is a user's service built on the SDK, as `micro new`
// would write it: it answers the hello API with GREETING. Before serving
// it reports what the runtime's tests look at: with PRINT_ENV=1 the names
// of its environment variables, and for each path in READ_FILES (comma
// separated) what reading it did.
package main

import (
	"fmt"
	"log"
	"os"
	"slices"
	"strings"

	"m3o.dev/pkg/service"
	"m3o.dev/pkg/service/servicetest"
	"m3o.dev/pkg/service/servicetest/hellopb"
)

func main() {
	probe()
	svc := service.New("hello")
	hellopb.RegisterHelloServer(svc, servicetest.NewGreeter(os.Getenv("GREETING")))
	if err := svc.Run(); err != nil {
		log.Fatal(err)
	}
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
	for _, path := range strings.Split(os.Getenv("READ_FILES"), ",") {
		if path != "" {
			_, err := os.ReadFile(path)
			fmt.Printf("read %s: %v\n", path, err)
		}
	}
}
