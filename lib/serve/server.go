package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
)

// Server serves one model folder's newest checkpoint over HTTP. Make it with New,
// mount Handler (or call ListenAndServe / Serve), and Close it when done.
type Server struct {
	cfg     Config
	ckptDir string
	log     *slog.Logger
	src     source

	model    atomic.Pointer[loaded]
	live     atomic.Int64 // models loaded and not yet closed
	reloadMu sync.Mutex
	mon      *monitor
	batch    *batcher
	mem      *budget
	explains *semaphore.Weighted // bounds the saliency maps computed at once
	handler  http.Handler
	draining atomic.Bool

	stop      chan struct{} // closed by Close: ends the batcher and the watcher
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// New loads the newest checkpoint of cfg.ModelDir, warms it up, and starts the
// batcher and the folder watcher. The server is ready when New returns.
func New(cfg Config) (*Server, error) {
	return newWithSource(cfg, trainSource{})
}

func newWithSource(cfg Config, src source) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	dir, err := checkpointDir(src, cfg.ModelDir)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	s := &Server{cfg: cfg, ckptDir: dir, log: cfg.Logger, src: src, stop: make(chan struct{}),
		mem:      newBudget(cfg.MaxMemory, decodeReserve(cfg.MaxPixels), cfg.MemoryWait),
		explains: semaphore.NewWeighted(int64(cfg.MaxExplains))}
	s.batch = &batcher{queue: make(chan *job, cfg.MaxQueue), maxBatch: cfg.MaxBatch, maxWait: cfg.MaxWait,
		acquire: s.acquire, release: s.release, stopped: s.stop}
	s.mon = newMetrics(cfg.MaxBatch, gauges{
		queue:       func() float64 { return float64(len(s.batch.queue)) },
		models:      func() float64 { return float64(s.live.Load()) },
		memory:      func() float64 { return float64(s.mem.inUse.Load()) },
		memoryLimit: float64(cfg.MaxMemory)})
	s.batch.observe = s.mon.observeBatch
	l, err := s.loadModel()
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	s.swap(l)
	if s.handler, err = s.routes(); err != nil {
		return nil, err
	}
	s.log.Info("model loaded", "checkpoint", l.name, "path", l.folder, "classes", len(l.classes),
		"shape", l.shape.String(), "load_seconds", l.loadTime.Seconds(),
		"max_batch", cfg.MaxBatch, "max_wait", cfg.MaxWait.String(), "max_memory", cfg.MaxMemory)
	s.wg.Go(s.batch.run)
	if cfg.Poll > 0 {
		s.wg.Go(s.watch)
	}
	return s, nil
}

// Handler returns the server's HTTP handler: every route, with request ids, logs,
// metrics and JSON errors.
func (s *Server) Handler() http.Handler { return s.handler }

// Checkpoint returns the epoch folder being served, e.g. "out/demo/checkpoints/epoch-0010".
func (s *Server) Checkpoint() string { return s.model.Load().folder }

// Close stops the batcher and the folder watcher, and releases the model once the
// calls in progress end. Requests still waiting for the model fail; Serve drains
// them before returning, so call Close after it.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.draining.Store(true)
		close(s.stop)
		s.wg.Wait()
		s.release(s.model.Load())
		// Answer what was still queued.
		for {
			select {
			case j := <-s.batch.queue:
				j.done <- jobResult{err: errShuttingDown}
			default:
				return
			}
		}
	})
	return nil
}

// Timeouts are the http.Server's limits that ListenAndServe and Serve set.
type Timeouts struct {
	ReadHeader time.Duration // reading a request's headers (default 10s)
	Read       time.Duration // reading a whole request, body included (default 30s)
	Write      time.Duration // from the end of the headers to the end of the answer (default 60s)
	Idle       time.Duration // a kept-alive connection waiting for its next request (default 120s)
	Drain      time.Duration // at shutdown, for the requests in flight to finish (default 30s)
	// NotReady is how long, at shutdown, the server keeps answering while /readyz
	// reports 503, before it stops accepting connections (default 0): behind a load
	// balancer that polls readiness, set it to a few polling periods so that no new
	// request meets a closed port.
	NotReady time.Duration
}

func (t Timeouts) withDefaults() Timeouts {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.ReadHeader, 10*time.Second)
	def(&t.Read, 30*time.Second)
	def(&t.Write, 60*time.Second)
	def(&t.Idle, 120*time.Second)
	def(&t.Drain, 30*time.Second)
	return t
}

// ListenAndServe listens on addr (host:port) and serves until ctx ends, then
// drains: see Serve.
func (s *Server) ListenAndServe(ctx context.Context, addr string, t Timeouts) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return s.Serve(ctx, ln, t)
}

// Serve answers requests on ln until ctx ends (cancel it on SIGTERM). Then it reports
// not ready, keeps answering for t.NotReady, stops accepting connections, waits up to
// t.Drain for the requests in flight to finish, and returns nil once they all have
// (an error when some were cut).
func (s *Server) Serve(ctx context.Context, ln net.Listener, t Timeouts) error {
	t = t.withDefaults()
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("serving", "addr", ln.Addr().String(), "checkpoint", s.model.Load().name)
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.draining.Store(true)
	if t.NotReady > 0 {
		s.log.Info("shutting down: not ready, still answering", "for", t.NotReady.String())
		select {
		case <-time.After(t.NotReady):
		case err := <-errc:
			return fmt.Errorf("serve: %w", err)
		}
	}
	s.log.Info("shutting down: draining requests in flight", "timeout", t.Drain.String())
	start := time.Now()
	dctx, cancel := context.WithTimeout(context.Background(), t.Drain)
	defer cancel()
	if err := srv.Shutdown(dctx); err != nil {
		srv.Close()
		return fmt.Errorf("serve: shutting down: requests still running after %s: %w", t.Drain, err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	s.log.Info("stopped", "drain_seconds", time.Since(start).Seconds())
	return nil
}
