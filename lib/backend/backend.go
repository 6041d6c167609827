// Package backend chooses where the numbers are computed: GoMLX's pure-Go backend
// (portable, always there), or XLA on the CPU or on a CUDA GPU when its PJRT plugin is
// installed. A process has one default backend, chosen once (Default); models, summaries
// and predictions use it unless given another.
package backend

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/go-xla/compute/xla"
)

// Backend is a GoMLX compute backend and the words that name it in outputs.
type Backend struct {
	// Compute is the GoMLX backend itself (for code that calls GoMLX directly).
	Compute compute.Backend
	// ID is "go", "xla:cpu" or "xla:cuda".
	ID string
	// Note says why this backend was chosen (e.g. which fallback was taken).
	Note string
}

// Env is the environment variable that picks the backend when New is given "" or
// "auto"; it takes the same values. GOMLX_BACKEND is honoured too.
const Env = "GOPHERDL_BACKEND"

func init() {
	// Never let the XLA backend download plugins at run time: a missing plugin is a
	// message and a fallback, not a hang on the network.
	xla.EnableAutoInstall(false)
}

// New returns a new backend:
//   - "go": GoMLX's pure-Go backend (portable, always there);
//   - "xla:cpu" or "xla:cuda": XLA through its PJRT plugin, which must be installed
//     (cmd/xla-install installs it; GoMLX looks in $PJRT_PLUGIN_LIBRARY_PATH,
//     /usr/local/lib/go-xla and ~/.local/lib/go-xla); the error names what is missing;
//   - "" or "auto": $GOPHERDL_BACKEND or $GOMLX_BACKEND when set, else XLA CUDA when
//     its plugin is installed, else XLA CPU when its plugin is installed, else "go".
//     Note says which fallback was taken.
//
// Nothing is downloaded. Most programs want Default instead: one backend per process.
func New(name string) (*Backend, error) {
	note := ""
	if name == "" || name == "auto" {
		for _, env := range []string{Env, compute.ConfigEnvVar} {
			if v := os.Getenv(env); v != "" && v != "auto" {
				name, note = v, "from $"+env
				break
			}
		}
	}
	if name == "" || name == "auto" {
		plugins := xla.GetAvailablePlugins()
		switch {
		case hasPlugin(plugins, "cuda"):
			name, note = "xla:cuda", "XLA CUDA plugin found"
		case hasPlugin(plugins, "cpu"):
			name, note = "xla:cpu", "XLA CPU plugin found"
		default:
			name, note = "go", "no XLA plugin installed: the pure-Go backend"
		}
	}
	switch {
	case name == "go" || strings.HasPrefix(name, "go:"):
		cfg := goConfig(strings.TrimPrefix(strings.TrimPrefix(name, "go"), ":"))
		b, err := gobackend.New(cfg)
		if err != nil {
			return nil, fmt.Errorf("backend %q: %w", name, err)
		}
		return &Backend{Compute: b, ID: "go", Note: note}, nil
	case strings.HasPrefix(name, "xla"):
		plugin := strings.TrimPrefix(strings.TrimPrefix(name, "xla"), ":")
		if plugin == "" {
			plugin = "cpu"
		}
		if !hasPlugin(xla.GetAvailablePlugins(), plugin) {
			return nil, fmt.Errorf("backend %q: the XLA PJRT plugin %q is not installed; install it with \"go run ./cmd/xla-install -plugin %s\" (needs the internet), or use the go backend", name, plugin, plugin)
		}
		b, err := xla.New(plugin)
		if err != nil {
			return nil, fmt.Errorf("backend %q: %w", name, err)
		}
		return &Backend{Compute: b, ID: "xla:" + plugin, Note: note}, nil
	}
	return nil, fmt.Errorf("backend %q: want go, xla:cpu, xla:cuda or auto", name)
}

// goConfig returns the pure-Go backend's configuration for the options given
// ("go:OPTIONS"): num_executors, the goroutines that run a graph's ready ops at
// once, is the number of cores the process may use unless given. GoMLX's default of
// 8 oversubscribes a small machine, where the extra executors only contend with the
// matrix products' own workers.
func goConfig(opts string) string {
	for _, o := range strings.Split(opts, ",") {
		if strings.HasPrefix(o, "num_executors=") {
			return opts
		}
	}
	n := fmt.Sprintf("num_executors=%d", runtime.GOMAXPROCS(0))
	if opts == "" {
		return n
	}
	return n + "," + opts
}

// MustNew is New for notebooks: it panics on error.
func MustNew(name string) *Backend {
	b, err := New(name)
	if err != nil {
		panic(err)
	}
	return b
}

var (
	defaultMu  sync.Mutex
	defaultB   *Backend
	defaultErr error
)

// Default returns the process's backend, made by New("auto") on the first call and
// shared by every later one (a model, a summary and a prediction all use the same
// backend, and their tensors can meet). SetDefault replaces it.
func Default() (*Backend, error) {
	defaultMu.Lock()
	defer defaultMu.Unlock()
	if defaultB == nil && defaultErr == nil {
		defaultB, defaultErr = New("auto")
	}
	return defaultB, defaultErr
}

// SetDefault makes New(name) the process's backend from now on; models made before
// keep theirs.
func SetDefault(name string) (*Backend, error) {
	b, err := New(name)
	if err != nil {
		return nil, err
	}
	defaultMu.Lock()
	defer defaultMu.Unlock()
	defaultB, defaultErr = b, nil
	return b, nil
}

func hasPlugin(plugins []string, name string) bool {
	for _, p := range plugins {
		if p == name || strings.HasPrefix(p, name+"_") {
			return true
		}
	}
	return false
}

// String names the backend and why it was chosen.
func (b *Backend) String() string {
	if b.Note == "" {
		return b.ID
	}
	return b.ID + " (" + b.Note + ")"
}
