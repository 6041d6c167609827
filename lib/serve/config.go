package serve

import (
	"fmt"
	"log/slog"
	"runtime"
	"time"
)

// Config configures a Server. Its zero values take the defaults below; New checks
// the rest.
type Config struct {
	// ModelDir is a checkpoint folder (epoch-NNNN sub-folders, as train.Fit and
	// train.Model.Save write them) or a cmd/walkthrough -out folder (whose
	// checkpoints are in ModelDir/checkpoints). Required.
	ModelDir string

	// MaxBatch is the most images one model call takes (default 32; 1 turns
	// batching off: one image per call).
	MaxBatch int
	// MaxWait is how long a batch that is not full waits for more images, while
	// other predictions are being read (default 2ms; negative: never). A lone
	// request never waits.
	MaxWait time.Duration
	// MaxQueue is the most images waiting for the model; over it, requests get 503
	// (default 1024).
	MaxQueue int
	// MaxExplains is the most saliency maps computed at once (default GOMAXPROCS);
	// further explanations wait their turn.
	MaxExplains int

	// MaxBodyBytes is the largest request body (default 8 MiB); larger ones get 413.
	MaxBodyBytes int64
	// MaxPixels is the largest image, width x height, read from its header before
	// decoding (default 2 Mpx, 2048 x 1024); larger ones get 413.
	MaxPixels int
	// MaxMemory is the memory that requests may hold at once, in bytes: the bodies
	// being read and the images being decoded (default 64 MiB). A request waits up
	// to MemoryWait for its share, then gets 503 with Retry-After. It must hold one
	// largest body and one largest decode (MaxBodyBytes + MaxPixels x 24 bytes).
	MaxMemory int64
	// MemoryWait is how long a request waits for its share of MaxMemory (default
	// 1s; negative: not at all).
	MemoryWait time.Duration
	// MaxFiles is the most images of one multipart request (default 64).
	MaxFiles int
	// DefaultTop is how many classes an answer lists without ?top= (default 5; every
	// class when larger than their number).
	DefaultTop int

	// Poll is how often ModelDir is checked for a newer checkpoint (0: never;
	// cmd/serve's -poll is 2s by default).
	Poll time.Duration

	// Logger receives the structured logs (default slog.Default()).
	Logger *slog.Logger
	// LogRequests writes one log line per request (method, path, status, duration,
	// request id) at level Info; off, only errors are logged per request.
	LogRequests bool
}

// Defaults of Config's zero values.
const (
	DefaultMaxBatch     = 32
	DefaultMaxWait      = 2 * time.Millisecond
	DefaultMaxQueue     = 1024
	DefaultMaxBodyBytes = 8 << 20
	DefaultMaxPixels    = 2048 * 1024
	DefaultMaxMemory    = 64 << 20
	DefaultMemoryWait   = time.Second
	DefaultMaxFiles     = 64
	DefaultTop          = 5
	// DefaultPoll is cmd/serve's -poll: Config's zero Poll never polls.
	DefaultPoll = 2 * time.Second
)

// withDefaults fills the zero values and checks the others.
func (c Config) withDefaults() (Config, error) {
	if c.ModelDir == "" {
		return c, fmt.Errorf("serve: no model folder given (a checkpoint folder, or a walkthrough -out folder)")
	}
	for _, f := range []struct {
		v    *int
		def  int
		name string
	}{{&c.MaxBatch, DefaultMaxBatch, "max batch"}, {&c.MaxQueue, DefaultMaxQueue, "max queue"},
		{&c.MaxExplains, runtime.GOMAXPROCS(0), "max explains"}, {&c.MaxPixels, DefaultMaxPixels, "max pixels"},
		{&c.MaxFiles, DefaultMaxFiles, "max files"}, {&c.DefaultTop, DefaultTop, "default top"}} {
		if *f.v == 0 {
			*f.v = f.def
		}
		if *f.v < 0 {
			return c, fmt.Errorf("serve: %s is %d: want a positive number", f.name, *f.v)
		}
	}
	for _, f := range []struct {
		v    *int64
		def  int64
		name string
	}{{&c.MaxBodyBytes, DefaultMaxBodyBytes, "max body"}, {&c.MaxMemory, DefaultMaxMemory, "max memory"}} {
		if *f.v == 0 {
			*f.v = f.def
		}
		if *f.v < 0 {
			return c, fmt.Errorf("serve: %s is %d bytes: want a positive size", f.name, *f.v)
		}
	}
	if c.MaxQueue < c.MaxFiles {
		return c, fmt.Errorf("serve: max queue %d is below max files %d: a request of %d images could never be queued", c.MaxQueue, c.MaxFiles, c.MaxFiles)
	}
	if need := c.MaxBodyBytes + decodeReserve(c.MaxPixels); c.MaxMemory < need {
		return c, fmt.Errorf("serve: max memory %d bytes cannot hold one largest body (%d bytes) and one largest decode (%d pixels x %d bytes): raise it to %d, or lower max body or max pixels",
			c.MaxMemory, c.MaxBodyBytes, c.MaxPixels, maxBytesPerPixel, need)
	}
	c.MaxWait = defaultDuration(c.MaxWait, DefaultMaxWait)
	c.MemoryWait = defaultDuration(c.MemoryWait, DefaultMemoryWait)
	if c.Poll < 0 {
		return c, fmt.Errorf("serve: poll is %s: want a positive period, or 0 for never", c.Poll)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

// defaultDuration is def for 0, and 0 for a negative d.
func defaultDuration(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}
