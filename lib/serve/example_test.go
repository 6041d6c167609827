package serve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"syscall"

	"github.com/gopherdl/gopherdl/lib/data/embedded"
	"github.com/gopherdl/gopherdl/lib/nn"
	"github.com/gopherdl/gopherdl/lib/serve"
	"github.com/gopherdl/gopherdl/lib/train"
)

// Serve a model trained into a checkpoint folder, and ask it about an image.
func Example() {
	dir, err := os.MkdirTemp("", "checkpoints-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	// A model trained briefly into a checkpoint folder, as a notebook does.
	trainDS, testDS := embedded.MustLoad()
	cfg := train.DefaultConfig()
	cfg.Epochs, cfg.Quiet, cfg.CheckpointDir = 1, true, dir
	if _, err := train.New(nn.Net(10), cfg).Fit(context.Background(), trainDS.Head(500), testDS.Head(100)); err != nil {
		fmt.Println(err)
		return
	}

	// The server: the model, its classes and its preprocessing come from the folder.
	s, err := serve.New(serve.Config{ModelDir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	ts := httptest.NewServer(s.Handler()) // or s.ListenAndServe(ctx, "127.0.0.1:8080", serve.Timeouts{})
	defer ts.Close()

	// A client: one PNG as the body, the three most probable classes.
	var img bytes.Buffer
	if err := png.Encode(&img, testDS.ToImage(0)); err != nil {
		fmt.Println(err)
		return
	}
	res, err := http.Post(ts.URL+"/v1/predict?top=3", "image/png", &img)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer res.Body.Close()
	var answer serve.PredictResponse
	if err := json.NewDecoder(res.Body).Decode(&answer); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("status:", res.StatusCode)
	fmt.Println("model:", answer.Model)
	fmt.Println("classes listed:", len(answer.Predictions))
	fmt.Println("most probable first:", answer.Predictions[0].Probability >= answer.Predictions[1].Probability)
	// Output:
	// status: 200
	// model: epoch-0001
	// classes listed: 3
	// most probable first: true
}

// A server that stops on Ctrl-C or SIGTERM, after the requests in flight finish:
// what cmd/serve does.
func ExampleServer_ListenAndServe() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := serve.New(serve.Config{ModelDir: "out/demo", LogRequests: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	if err := s.ListenAndServe(ctx, "127.0.0.1:8080", serve.Timeouts{}); err != nil {
		fmt.Println(err)
	}
}
