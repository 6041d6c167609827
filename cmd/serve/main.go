// Command serve puts a trained model behind HTTP (step 5 of the walkthrough): a
// prediction API, a page to drop an image on, health checks and Prometheus metrics.
//
//	go run ./cmd/serve -model out/demo                 # a cmd/walkthrough -out folder
//	go run ./cmd/serve -model notebooks/checkpoints    # a checkpoint folder a notebook wrote
//	go run ./cmd/serve -model out/demo -addr 0.0.0.0:8080 -max-batch 32 -max-wait 2ms
//
// The model, its classes, input shape and preprocessing come from the folder's
// newest checkpoint; a newer one is picked up while serving. SIGTERM or Ctrl-C
// drains the requests in flight and exits 0. See package lib/serve for the API.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/gopherdl/gopherdl/lib/backend"
	"github.com/gopherdl/gopherdl/lib/serve"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); stop() }() // a second signal ends the program at once, drained or not
	err := run(ctx, os.Args[1:], os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.Is(err, errUsage):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

// run parses args, serves until ctx ends, then drains.
func run(ctx context.Context, args []string, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	b, err := backend.SetDefault(o.backend)
	if err != nil {
		return err
	}
	o.cfg.Logger.Info("backend", "backend", b.String())
	s, err := serve.New(o.cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.ListenAndServe(ctx, o.addr, o.timeouts)
}

// settings are what the flags say.
type settings struct {
	cfg      serve.Config
	timeouts serve.Timeouts
	addr     string
	backend  string
}

// parse reads the flags; a usage error is written to stderr and returned as errUsage.
func parse(args []string, stderr io.Writer) (settings, error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o settings
	cfg, t := &o.cfg, &o.timeouts
	fs.StringVar(&cfg.ModelDir, "model", "", "a cmd/walkthrough -out folder, or a checkpoint folder (epoch-NNNN sub-folders) a notebook wrote (required)")
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "host:port to listen on (0.0.0.0:8080 for every interface)")
	fs.IntVar(&cfg.MaxBatch, "max-batch", serve.DefaultMaxBatch, "most images per model call (1: no batching)")
	fs.DurationVar(&cfg.MaxWait, "max-wait", serve.DefaultMaxWait, "longest wait for a batch to fill while other requests are being read")
	fs.IntVar(&cfg.MaxQueue, "max-queue", serve.DefaultMaxQueue, "most images waiting for the model (more: 503)")
	fs.Int64Var(&cfg.MaxBodyBytes, "max-body", serve.DefaultMaxBodyBytes, "largest request body in bytes (more: 413)")
	fs.IntVar(&cfg.MaxPixels, "max-pixels", serve.DefaultMaxPixels, "largest image, width x height, read from its header before decoding (more: 413)")
	fs.Int64Var(&cfg.MaxMemory, "max-memory", serve.DefaultMaxMemory, "memory in bytes that requests may hold at once: bodies being read, images being decoded (at least -max-body + 24 x -max-pixels)")
	fs.DurationVar(&cfg.MemoryWait, "memory-wait", serve.DefaultMemoryWait, "how long a request waits for its share of -max-memory before a 503")
	fs.IntVar(&cfg.MaxExplains, "max-explains", runtime.GOMAXPROCS(0), "most saliency maps computed at once (/v1/explain)")
	fs.IntVar(&cfg.MaxFiles, "max-files", serve.DefaultMaxFiles, "most images in one multipart request")
	fs.IntVar(&cfg.DefaultTop, "top", serve.DefaultTop, "classes listed when a request has no ?top=")
	fs.DurationVar(&cfg.Poll, "poll", serve.DefaultPoll, "how often to look for a newer checkpoint (0: never)")
	fs.DurationVar(&t.Drain, "drain", 30*time.Second, "at SIGTERM, how long requests in flight may take to finish")
	fs.DurationVar(&t.NotReady, "not-ready", 0, "at SIGTERM, how long to keep answering with /readyz at 503 before closing the port (behind a load balancer: a few of its readiness polls)")
	fs.DurationVar(&t.Read, "read-timeout", 30*time.Second, "longest time to read a request, body included")
	fs.DurationVar(&t.Write, "write-timeout", 60*time.Second, "longest time from a request's headers to the end of its answer")
	fs.DurationVar(&t.Idle, "idle-timeout", 120*time.Second, "how long a kept-alive connection may wait for its next request")
	logFormat := fs.String("log", "json", "log format: json or text")
	fs.BoolVar(&cfg.LogRequests, "log-requests", true, "log every request (off: only server errors)")
	fs.StringVar(&o.backend, "backend", "auto", "go, xla:cpu, xla:cuda or auto (XLA when its plugin is installed, else go)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, errUsage
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "serve: unexpected argument %q (flags only; see -h)\n", fs.Arg(0))
		return o, errUsage
	case cfg.ModelDir == "":
		fmt.Fprintln(stderr, "serve: -model is required: a cmd/walkthrough -out folder (make demo writes out/demo) or a notebook's checkpoint folder")
		return o, errUsage
	case *logFormat == "json":
		cfg.Logger = slog.New(slog.NewJSONHandler(stderr, nil))
	case *logFormat == "text":
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	default:
		fmt.Fprintf(stderr, "serve: -log %q: want json or text\n", *logFormat)
		return o, errUsage
	}
	return o, nil
}
