package client_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/gopherdl/gopherdl/lib/serve"
	"github.com/gopherdl/gopherdl/lib/serve/client"
)

// Ask a server about an image, and read what its metrics say about it.
func Example() {
	// A server of a model folder (a notebook runs cmd/serve with client.Start instead).
	s, err := serve.New(serve.Config{ModelDir: modelDir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()

	ctx := context.Background()
	c := client.New(ts.URL)
	before, err := c.Metrics(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	img, err := client.PNG("shoe.png", testSet.ToImage(0))
	if err != nil {
		fmt.Println(err)
		return
	}
	answer, err := c.Predict(ctx, 3, img)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = c.Predict(ctx, 3, client.Image{Data: []byte("not an image")})
	fmt.Println("model:", answer.Model, "image:", answer.Results[0].Name, "classes:", len(answer.Predictions))
	fmt.Println("junk:", strings.SplitN(err.Error(), ":", 2)[0])

	after, err := c.Metrics(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	d := after.Since(before)
	clientErrors, serverErrors := d.Errors()
	fmt.Println("predictions:", d.Requests("/v1/predict"), "client errors:", clientErrors, "server errors:", serverErrors)
	fmt.Println("p99 measured:", d.Latency("/v1/predict").Quantile(0.99) > 0)
	// Output:
	// model: epoch-0001 image: shoe.png classes: 3
	// junk: 415 Unsupported Media Type
	// predictions: 2 client errors: 1 server errors: 0
	// p99 measured: true
}

// Run a server that outlives the program (a notebook cell) that starts it, and stop
// it from another.
func ExampleStart() {
	ctx := context.Background()
	p, err := client.Start(ctx, "checkpoints/06-deploy", client.Options{Addr: "127.0.0.1:8086", Dir: "server"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("serving on", p.Addr)

	// Later, in another program:
	if p, err := client.Find("server"); err == nil {
		status, err := p.Stop(time.Minute)
		fmt.Println("exit status", status, err)
	}
}
