// Command serve-bench load-tests the model server on loopback: it starts the server
// (lib/serve, as cmd/serve runs it) in a child process, sends single-image
// predictions from concurrent clients for a bounded time and count, with batching
// on and then off (max batch 1), and prints requests/s, p50/p99 latency, errors and
// the server's peak RSS, beside the model's offline evaluation speed
// (train.Model.Evaluate on the embedded test set) measured in the same run.
//
//	go run ./cmd/serve-bench                          # 32 clients, 20 s per mode, a model trained here
//	go run ./cmd/serve-bench -model out/demo -clients 64 -duration 30s
//
// It exits 1 when a request fails.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"image/png"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gopherdl/gopherdl/lib/backend"
	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/data/embedded"
	"github.com/gopherdl/gopherdl/lib/nn"
	"github.com/gopherdl/gopherdl/lib/serve"
	"github.com/gopherdl/gopherdl/lib/train"
)

// childEnv makes the process the server of a measurement (the parent sets it).
const childEnv = "GOPHERDL_SERVE_BENCH_CHILD"

func main() {
	var err error
	if os.Getenv(childEnv) != "" {
		err = child(os.Args[1:])
	} else {
		err = run(os.Args[1:], os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "serve-bench:", err)
		os.Exit(1)
	}
}

// options are the measurement's settings.
type options struct {
	model     string
	clients   int
	duration  time.Duration
	requests  int
	warmup    time.Duration
	maxBatch  int
	maxWait   time.Duration
	modes     string
	evalRuns  int
	logs      bool
	serverLog string

	uploads     int   // bomb
	uploadBytes int64 // bomb
	slowClients int   // slow

	test *testSet // loaded by the first load mode
}

// testSet is what the load modes send, and the model they compare with.
type testSet struct {
	d      *data.Dataset
	bodies [][]byte
	model  *train.Model
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("serve-bench", flag.ContinueOnError)
	var o options
	fs.StringVar(&o.model, "model", "", "model folder (walkthrough -out or checkpoint folder); default: train a small model on the embedded dataset first")
	fs.IntVar(&o.clients, "clients", 32, "concurrent clients, each sending one image per request")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "measured time per mode")
	fs.IntVar(&o.requests, "requests", 200000, "most requests per mode (the measurement stops at the time or the count, whichever comes first)")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured load before each measurement")
	fs.IntVar(&o.maxBatch, "max-batch", serve.DefaultMaxBatch, "the server's max batch with batching on")
	fs.DurationVar(&o.maxWait, "max-wait", serve.DefaultMaxWait, "the server's max wait with batching on")
	fs.StringVar(&o.modes, "modes", "batched,single", "modes to measure: batched (max batch as set), single (max batch 1), bomb (large uploads at once), slow (clients holding half-sent requests)")
	fs.IntVar(&o.evalRuns, "eval-runs", 5, "offline Evaluate runs (the best is reported)")
	fs.BoolVar(&o.logs, "log-requests", true, "the server logs every request (to a file), as cmd/serve does by default")
	fs.IntVar(&o.uploads, "uploads", 200, "bomb: concurrent uploads")
	fs.Int64Var(&o.uploadBytes, "upload-bytes", 8_000_000, "bomb: the size of each upload (a PNG signature, then noise)")
	fs.IntVar(&o.slowClients, "slow-clients", 2000, "slow: connections holding a half-sent request (half without the end of their headers, half without the end of their body)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "gopherdl-serve-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	o.serverLog = filepath.Join(work, "server.log")

	fmt.Fprintf(stdout, "CPU: %s, %d cores (GOMAXPROCS %d); load average %s\n", cpuModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0), loadAvg())
	if o.model == "" {
		o.model = filepath.Join(work, "checkpoints")
		start := time.Now()
		if err := trainSmall(o.model); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "model: trained 1 epoch on 2,000 embedded images in %.1fs (its speed, not its accuracy, is measured)\n", time.Since(start).Seconds())
	}
	ckpt, err := serve.CheckpointDir(o.model)
	if err != nil {
		return err
	}
	var results []result
	var failed []string
	for _, mode := range strings.Split(o.modes, ",") {
		var err error
		switch mode = strings.TrimSpace(mode); mode {
		case "batched", "single":
			var r result
			if r, err = loadMode(o, ckpt, mode, stdout); err == nil {
				results = append(results, r)
				if r.errors > 0 {
					err = fmt.Errorf("%d requests failed, the first: %s", r.errors, r.firstErr)
				}
			}
		case "bomb":
			_, err = bomb(o, ckpt, stdout)
		case "slow":
			_, err = slow(o, ckpt, stdout)
		default:
			return fmt.Errorf("-modes: unknown mode %q (batched, single, bomb, slow)", mode)
		}
		if err != nil {
			failed = append(failed, mode+": "+err.Error())
			fmt.Fprintf(stdout, "%s: FAILED: %v\n", mode, err)
		}
	}
	printTable(stdout, results)
	fmt.Fprintf(stdout, "load average after: %s\n", loadAvg())
	if len(failed) > 0 {
		return errors.New(strings.Join(failed, "; "))
	}
	return nil
}

// loadMode measures one mode of batching (batched or single): the model's offline
// speed, then the server under o.clients clients.
func loadMode(o options, ckpt, mode string, stdout io.Writer) (result, error) {
	if o.test == nil {
		_, testDS := embedded.MustLoad()
		bodies, err := encodeAll(testDS)
		if err != nil {
			return result{}, err
		}
		m, err := train.Load(ckpt)
		if err != nil {
			return result{}, err
		}
		b, _ := backend.Default()
		fmt.Fprintf(stdout, "model: %s (%s, %d classes); backend: %s\n", train.LatestCheckpoint(ckpt), m.Shape, len(m.Classes), b)
		fmt.Fprintf(stdout, "offline: train.Model.Evaluate on the embedded test set (%d images, batch %d, best of %d), right before each mode\n",
			testDS.Len(), m.Config.BatchSize, o.evalRuns)
		fmt.Fprintf(stdout, "load: %d clients, each posting one PNG at a time, for %s or %d requests after %s of warm-up\n\n",
			o.clients, o.duration, o.requests, o.warmup)
		o.test = &testSet{d: testDS, bodies: bodies, model: m}
	}
	maxBatch, maxWait := o.maxBatch, o.maxWait
	if mode == "single" {
		maxBatch, maxWait = 1, -1
	}
	// Offline: the model's own evaluation speed, in this process, with no server
	// running, measured right before each mode (the machine's load drifts).
	before := cpuNow(0)
	offline, err := evaluateSpeed(o.test.model, o.test.d, o.evalRuns)
	if err != nil {
		return result{}, err
	}
	after := cpuNow(0)
	secs := after.wall.Sub(before.wall).Seconds()
	evalCores := (after.self - before.self).Seconds() / secs
	evalOthers := max(0, (after.busy-before.busy).Seconds()/secs-evalCores)
	runtime.GC()

	r, err := measure(o, ckpt, maxBatch, maxWait, o.test.bodies)
	if err != nil {
		return r, err
	}
	r.mode = fmt.Sprintf("%s (max batch %d)", mode, maxBatch)
	r.offline, r.evalCores, r.evalOthers = offline, evalCores, evalOthers
	fmt.Fprintf(stdout, "%s: offline %.0f images/s, served %.0f requests/s\n", r.mode, offline, r.rate)
	return r, nil
}

// printTable prints the load modes' figures side by side.
func printTable(stdout io.Writer, results []result) {
	if len(results) == 0 {
		return
	}
	fmt.Fprintf(stdout, "\n%-22s %8s %7s %7s %7s %7s %6s %9s %6s %8s %8s  %s\n", "mode", "requests", "req/s", "p50 ms", "p99 ms", "max ms",
		"errors", "peak RSS", "batch", "offline", "ratio", "cores: server/clients/rest, offline/rest")
	for _, r := range results {
		fmt.Fprintf(stdout, "%-22s %8d %7.0f %7.1f %7.1f %7.1f %6d %6.0f MB %6.1f %8.0f %7.2fx  %.2f/%.2f/%.2f, %.2f/%.2f\n", r.mode, r.requests, r.rate,
			ms(r.p50), ms(r.p99), ms(r.max), r.errors, r.peakRSSMB, r.meanBatch, r.offline, r.rate/r.offline,
			r.serverCores, r.clientCores, r.otherCores, r.evalCores, r.evalOthers)
	}
	fmt.Fprintln(stdout, "(batch: mean images per model call; offline: Evaluate images/s right before; ratio: req/s / offline; cores: CPU time / elapsed, during the load and during the offline run)")
	if len(results) == 2 && results[1].rate > 0 {
		fmt.Fprintf(stdout, "\nbatching: %.2fx the requests/s of one image per model call\n", results[0].rate/results[1].rate)
	}
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// trainSmall trains the article's CNN briefly into dir.
func trainSmall(dir string) error {
	trainDS, testDS := embedded.MustLoad()
	cfg := train.DefaultConfig()
	cfg.Epochs, cfg.LR, cfg.Momentum, cfg.Quiet, cfg.CheckpointDir = 1, 0.05, 0.9, true, dir
	_, err := train.New(nn.Net(len(trainDS.Classes)), cfg).Fit(context.Background(), trainDS.Head(2000), testDS.Head(200))
	return err
}

// encodeAll encodes every image of d as PNG: the request bodies.
func encodeAll(d *data.Dataset) ([][]byte, error) {
	out := make([][]byte, d.Len())
	for i := range out {
		var buf bytes.Buffer
		if err := png.Encode(&buf, d.ToImage(i)); err != nil {
			return nil, err
		}
		out[i] = buf.Bytes()
	}
	return out, nil
}

// evaluateSpeed returns the best images/s of runs Evaluate calls (after one warm-up).
func evaluateSpeed(m *train.Model, d *data.Dataset, runs int) (float64, error) {
	if _, err := m.Evaluate(d); err != nil {
		return 0, err
	}
	best := 0.0
	for range max(runs, 1) {
		start := time.Now()
		if _, err := m.Evaluate(d); err != nil {
			return 0, err
		}
		best = max(best, float64(d.Len())/time.Since(start).Seconds())
	}
	return best, nil
}

// result is one mode's figures.
type result struct {
	mode             string
	requests, errors int
	firstErr         string
	rate             float64
	p50, p99, max    time.Duration
	peakRSSMB        float64
	meanBatch        float64
	offline          float64 // offline Evaluate images/s, right before
	evalCores        float64 // the cores that Evaluate used
	evalOthers       float64 // and the rest of the machine meanwhile
	serverCores      float64 // the server's CPU time / the measured time
	clientCores      float64 // this process's (the clients')
	otherCores       float64 // the rest of the machine's
}

// measure starts a server with the given batching, loads it for o.warmup, then
// measures o.duration (or o.requests), stops it with SIGTERM and reads its peak RSS.
func measure(o options, ckpt string, maxBatch int, maxWait time.Duration, bodies [][]byte) (result, error) {
	srv, err := startServer(o, ckpt, "-max-batch", strconv.Itoa(maxBatch), "-max-wait", maxWait.String())
	if err != nil {
		return result{}, err
	}
	defer srv.kill()
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: o.clients, MaxIdleConnsPerHost: o.clients,
		DisableCompression: true}, Timeout: 30 * time.Second}
	load(client, srv.url, o.clients, o.warmup, 0, bodies) // warm-up, not measured
	before := cpuNow(srv.cmd.Process.Pid)
	r := load(client, srv.url, o.clients, o.duration, o.requests, bodies)
	after := cpuNow(srv.cmd.Process.Pid)
	if secs := after.wall.Sub(before.wall).Seconds(); secs > 0 {
		r.serverCores = (after.server - before.server).Seconds() / secs
		r.clientCores = (after.self - before.self).Seconds() / secs
		r.otherCores = max(0, (after.busy-before.busy).Seconds()/secs-r.serverCores-r.clientCores)
	}
	if res, err := client.Get(srv.url + "/metrics"); err == nil {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		sum, count := metric(b, "gopherdl_batch_images_sum"), metric(b, "gopherdl_batch_images_count")
		if count > 0 {
			r.meanBatch = sum / count
		}
	}
	client.CloseIdleConnections()
	r.peakRSSMB, err = srv.stop()
	return r, err
}

// server is a server of a measurement: this program as a child process.
type server struct {
	cmd     *exec.Cmd
	url     string
	stopped bool
}

// startServer starts the child server on the model with the given flags, and waits
// until it listens.
func startServer(o options, ckpt string, flags ...string) (*server, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(o.serverLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own descriptor
	args := append([]string{"-model", ckpt, "-log-requests=" + strconv.FormatBool(o.logs)}, flags...)
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		s.kill()
		return nil, fmt.Errorf("the server did not start (see its log): %w", err)
	}
	s.url = "http://" + strings.TrimSpace(strings.TrimPrefix(line, "listening "))
	return s, nil
}

// stop sends SIGTERM, checks that the server drains and exits 0, and returns its
// peak RSS in MB (its rusage).
func (s *server) stop() (float64, error) {
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return 0, err
	}
	s.stopped = true
	if err := s.cmd.Wait(); err != nil {
		return 0, fmt.Errorf("the server after SIGTERM: %w (see its log)", err)
	}
	if ru, ok := s.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		return float64(ru.Maxrss) / 1024, nil
	}
	return 0, nil
}

// kill ends a server that was not stopped.
func (s *server) kill() {
	if !s.stopped {
		s.stopped = true
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
}

// rssMB is the server's resident memory now, in MB.
func (s *server) rssMB() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// load sends requests from n clients for d (and at most limit requests when > 0),
// cycling through bodies, and returns the figures.
func load(client *http.Client, url string, n int, d time.Duration, limit int, bodies [][]byte) result {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var sent atomic.Int64
	var wg sync.WaitGroup
	lat := make([][]time.Duration, n)
	errs := make([]int, n)
	firstErr := make([]string, n)
	start := time.Now()
	for c := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; ctx.Err() == nil; i += n {
				if limit > 0 && sent.Add(1) > int64(limit) {
					return
				}
				t0 := time.Now()
				err := predict(ctx, client, url, bodies[i%len(bodies)])
				if ctx.Err() != nil {
					return // cut by the end of the measurement: not counted
				}
				if err != nil {
					errs[c]++
					if firstErr[c] == "" {
						firstErr[c] = err.Error()
					}
					continue
				}
				lat[c] = append(lat[c], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	r := result{}
	for c := range n {
		all = append(all, lat[c]...)
		r.errors += errs[c]
		if r.firstErr == "" {
			r.firstErr = firstErr[c]
		}
	}
	slices.Sort(all)
	r.requests = len(all) + r.errors
	r.rate = float64(len(all)) / elapsed.Seconds()
	if len(all) > 0 {
		r.p50, r.p99, r.max = all[len(all)/2], all[len(all)*99/100], all[len(all)-1]
	}
	return r
}

// predict sends one image and checks the answer.
func predict(ctx context.Context, client *http.Client, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/predict?top=1", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "image/png")
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d: %s", res.StatusCode, bytes.TrimSpace(b))
	}
	if !bytes.Contains(b, []byte(`"predictions":[{"class":`)) {
		return fmt.Errorf("no prediction in %q", b)
	}
	return nil
}

// metric reads one sample's value from Prometheus text.
func metric(text []byte, name string) float64 {
	for line := range strings.SplitSeq(string(text), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return 0
}

// cpuSample is the CPU time used so far by the machine, the server and this process.
type cpuSample struct {
	wall               time.Time
	busy, server, self time.Duration
}

// clockTick is the unit of /proc's CPU times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

func cpuNow(server int) cpuSample {
	s := cpuSample{wall: time.Now()}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
		for i := 1; i < len(f) && i <= 8; i++ {
			v, _ := strconv.ParseInt(f[i], 10, 64)
			if i != 4 && i != 5 { // not idle, not iowait
				s.busy += time.Duration(v) * clockTick
			}
		}
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", server)); err == nil {
		// After the command name in parentheses: utime and stime are fields 14 and 15.
		if i := strings.LastIndexByte(string(b), ')'); i >= 0 {
			f := strings.Fields(string(b)[i+1:])
			if len(f) > 13 {
				u, _ := strconv.ParseInt(f[11], 10, 64)
				k, _ := strconv.ParseInt(f[12], 10, 64)
				s.server = time.Duration(u+k) * clockTick
			}
		}
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return s
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// child is the server process of a measurement: lib/serve as cmd/serve runs it, on
// a free loopback port that it prints as "listening HOST:PORT".
func child(args []string) error {
	fs := flag.NewFlagSet("serve-bench server", flag.ContinueOnError)
	var cfg serve.Config
	fs.StringVar(&cfg.ModelDir, "model", "", "model folder")
	fs.IntVar(&cfg.MaxBatch, "max-batch", serve.DefaultMaxBatch, "max batch")
	fs.DurationVar(&cfg.MaxWait, "max-wait", serve.DefaultMaxWait, "max wait")
	fs.BoolVar(&cfg.LogRequests, "log-requests", true, "log every request")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	s, err := serve.New(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("listening %s\n", ln.Addr())
	return s.Serve(ctx, ln, serve.Timeouts{})
}
