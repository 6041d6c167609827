package serve

import (
	"fmt"
	"log/slog"
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
	// other predictions are being read (default 2ms). A lone request never waits.
	MaxWait time.Duration
	// MaxQueue is the most images waiting for the model; over it, requests get 503
	// (default 1024).
	MaxQueue int

	// MaxBodyBytes is the largest request body (default 8 MiB); larger ones get 413.
	MaxBodyBytes int64
	// MaxPixels is the largest image, width x height, read from its header before
	// decoding (default 4096 x 4096); larger ones get 413.
	MaxPixels int
	// MaxFiles is the most images of one multipart request (default 64).
	MaxFiles int
	// DefaultTop is how many classes an answer lists without ?top= (default 5; every
	// class when larger than their number).
	DefaultTop int

	// Poll is how often ModelDir is checked for a newer checkpoint (default 2s;
	// negative: never).
	Poll time.Duration

	// Logger receives the structured logs (default slog.Default()).
	Logger *slog.Logger
	// LogRequests writes one log line per request (method, path, status, duration,
	// request id) at level Info; off, only errors are logged per request.
	LogRequests bool

	// beforeBatch, when set (tests), runs before each model call.
	beforeBatch func(n int)
	// beforeExplain, when set (tests), runs before each saliency map, in its slot.
	beforeExplain func()
}

// Defaults of Config's zero values.
const (
	DefaultMaxBatch     = 32
	DefaultMaxWait      = 2 * time.Millisecond
	DefaultMaxQueue     = 1024
	DefaultMaxBodyBytes = 8 << 20
	DefaultMaxPixels    = 4096 * 4096
	DefaultMaxFiles     = 64
	DefaultTop          = 5
	DefaultPoll         = 2 * time.Second
)

// withDefaults fills the zero values and checks the others.
func (c Config) withDefaults() (Config, error) {
	if c.ModelDir == "" {
		return c, fmt.Errorf("serve: no model folder given (a checkpoint folder, or a walkthrough -out folder)")
	}
	setInt := func(v *int, def int, name string) error {
		if *v == 0 {
			*v = def
		}
		if *v < 0 {
			return fmt.Errorf("serve: %s is %d: want a positive number", name, *v)
		}
		return nil
	}
	for _, f := range []struct {
		v    *int
		def  int
		name string
	}{{&c.MaxBatch, DefaultMaxBatch, "max batch"}, {&c.MaxQueue, DefaultMaxQueue, "max queue"},
		{&c.MaxPixels, DefaultMaxPixels, "max pixels"}, {&c.MaxFiles, DefaultMaxFiles, "max files"},
		{&c.DefaultTop, DefaultTop, "default top"}} {
		if err := setInt(f.v, f.def, f.name); err != nil {
			return c, err
		}
	}
	if c.MaxQueue < c.MaxFiles {
		return c, fmt.Errorf("serve: max queue %d is below max files %d: a request of %d images could never be queued", c.MaxQueue, c.MaxFiles, c.MaxFiles)
	}
	if c.MaxWait == 0 {
		c.MaxWait = DefaultMaxWait
	}
	if c.MaxWait < 0 {
		c.MaxWait = 0
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxBodyBytes < 0 {
		return c, fmt.Errorf("serve: max body is %d bytes: want a positive size", c.MaxBodyBytes)
	}
	if c.Poll == 0 {
		c.Poll = DefaultPoll
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}
