package serve

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gopherdl/gopherdl/lib/data/embedded"
	"github.com/gopherdl/gopherdl/lib/serve/api"
	"github.com/gopherdl/gopherdl/lib/train"
)

// gate blocks the first model call after arm until released, and records every
// call's size.
type gate struct {
	mu      sync.Mutex
	sizes   []int
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

// source is the test model with the gate inside its predictions.
func (g *gate) source() source { return withHooks(&g.armed, g.hook, nil) }

func newGate() *gate {
	return &gate{entered: make(chan struct{}, 1), release: make(chan struct{})}
}

func (g *gate) hook(n int) {
	g.mu.Lock()
	g.sizes = append(g.sizes, n)
	g.mu.Unlock()
	select {
	case g.entered <- struct{}{}:
	default:
	}
	<-g.release
}

func (g *gate) calls() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]int(nil), g.sizes...)
}

// listening starts a Server on the test model (no polling; logs discarded unless
// cfg.Logger is set) and serves it on a loopback port with timeouts t until cancel
// is called; served receives what Serve returned. The server is closed when the test
// ends.
func listening(t *testing.T, cfg Config, src source, tm Timeouts) (s *Server, addr string, cancel context.CancelFunc, served <-chan error) {
	t.Helper()
	cfg.ModelDir = testModel(t)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s, err := newWithSource(cfg, src)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln, tm) }()
	return s, ln.Addr().String(), cancel, done
}

// waitFor polls cond for up to d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestBatching: images queued while the model is busy go through it together, at
// most MaxBatch at a time, in powers of two (12 images: 8, then 4); with MaxBatch 1,
// one at a time.
func TestBatching(t *testing.T) {
	for _, maxBatch := range []int{8, 32, 1} {
		t.Run(fmt.Sprint("max batch ", maxBatch), func(t *testing.T) {
			g := newGate()
			s, ts, _ := newServerWith(t, Config{MaxBatch: maxBatch}, g.source())
			g.armed.Store(true)
			img := pngOf(t, 3)
			var wg sync.WaitGroup
			var failed atomic.Int32
			send := func() {
				defer wg.Done()
				res, err := http.Post(ts.URL+"/v1/predict", "image/png", strings.NewReader(string(img)))
				if err != nil || res.StatusCode != 200 {
					failed.Add(1)
				}
				if res != nil {
					res.Body.Close()
				}
			}
			wg.Add(1)
			go send()
			<-g.entered // the first image is in the model
			for range 12 {
				wg.Add(1)
				go send()
			}
			waitFor(t, 10*time.Second, "12 queued images", func() bool { return len(s.batch.queue) == 12 })
			close(g.release)
			wg.Wait()
			if failed.Load() > 0 {
				t.Fatalf("%d requests failed", failed.Load())
			}
			sizes := g.calls()
			want := []int{1, 8, 4}
			if maxBatch == 1 {
				want = []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}
			}
			if fmt.Sprint(sizes) != fmt.Sprint(want) {
				t.Errorf("model calls of %v images, want %v", sizes, want)
			}
		})
	}
}

// TestLoneRequestDoesNotWait: MaxWait only applies while other requests are
// arriving.
func TestLoneRequestDoesNotWait(t *testing.T) {
	_, ts, _ := newServer(t, Config{MaxWait: time.Second})
	img := pngOf(t, 0)
	post(t, ts.URL+"/v1/predict", "image/png", img, nil)
	start := time.Now()
	if res := post(t, ts.URL+"/v1/predict", "image/png", img, nil); res.StatusCode != 200 {
		t.Fatalf("HTTP %d", res.StatusCode)
	}
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Errorf("a lone request took %v with MaxWait 1s: it waited for a batch", took)
	}
}

// TestOverloaded: over MaxQueue waiting images, requests get 503 with Retry-After.
func TestOverloaded(t *testing.T) {
	g := newGate()
	s, ts, _ := newServerWith(t, Config{MaxQueue: 2, MaxFiles: 2}, g.source())
	g.armed.Store(true)
	img := pngOf(t, 0)
	first := make(chan int)
	go func() {
		res, err := http.Post(ts.URL+"/v1/predict", "image/png", strings.NewReader(string(img)))
		if err != nil {
			first <- 0
			return
		}
		res.Body.Close()
		first <- res.StatusCode
	}()
	<-g.entered
	// Two images wait behind the one in the model: the queue is full.
	second := make(chan int)
	go func() {
		ct, body := multipartBody(t, part{"image", "1.png", img}, part{"image", "2.png", img})
		res, err := http.Post(ts.URL+"/v1/predict", ct, strings.NewReader(string(body)))
		if err != nil {
			second <- 0
			return
		}
		res.Body.Close()
		second <- res.StatusCode
	}()
	deadline := time.Now().Add(10 * time.Second)
	for len(s.batch.queue) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	var got api.Error
	res := post(t, ts.URL+"/v1/predict", "image/png", img, &got)
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" || !strings.Contains(got.Error, "overloaded") {
		t.Errorf("HTTP %d %q (Retry-After %q), want 503 overloaded", res.StatusCode, got.Error, res.Header.Get("Retry-After"))
	}
	close(g.release)
	if code := <-first; code != 200 {
		t.Errorf("the request in the model: HTTP %d", code)
	}
	if code := <-second; code != 200 {
		t.Errorf("the request in the queue: HTTP %d", code)
	}
}

// TestReload: a newer checkpoint written while requests run is swapped in with no
// failed request; the metrics and the logs say so.
func TestReload(t *testing.T) {
	dir := copyDir(t, testModel(t))
	s, ts, logs := newServer(t, Config{ModelDir: dir, Poll: 20 * time.Millisecond})
	img := pngOf(t, 5)

	var stop atomic.Bool
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[string]int{}
	var failures []string
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				var got PredictResponse
				res, err := http.Post(ts.URL+"/v1/predict", "image/png", strings.NewReader(string(img)))
				if err == nil {
					b, _ := io.ReadAll(res.Body)
					res.Body.Close()
					err = json.Unmarshal(b, &got)
					if err == nil && res.StatusCode != 200 {
						err = fmt.Errorf("HTTP %d: %s", res.StatusCode, b)
					}
				}
				mu.Lock()
				if err != nil {
					failures = append(failures, err.Error())
				} else {
					seen[got.Model]++
				}
				mu.Unlock()
			}
		}()
	}

	// Train one more epoch into the folder, as a notebook would.
	m, err := train.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	m.Config.Quiet = true
	trainDS, testDS := embedded.MustLoad()
	if _, err := m.FitMore(context.Background(), 1, trainDS.Head(500), testDS.Head(100)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "the server to serve epoch-0002", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return seen["epoch-0002"] > 20
	})
	stop.Store(true)
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d requests failed during the swap, e.g. %s", len(failures), failures[0])
	}
	if seen["epoch-0001"] == 0 {
		t.Errorf("no request answered by epoch-0001 before the swap: %v", seen)
	}
	if got := s.Checkpoint(); got != filepath.Join(dir, "epoch-0002") {
		t.Errorf("serving %s", got)
	}
	b := get(t, ts.URL+"/metrics")
	for _, want := range []string{`gopherdl_model_info{checkpoint="epoch-0002"`, `gopherdl_model_reloads_total{result="ok"} 1`, `gopherdl_model_epochs 2`} {
		if !strings.Contains(b, want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
	if strings.Contains(b, `checkpoint="epoch-0001"`) {
		t.Errorf("/metrics still lists epoch-0001")
	}
	if !strings.Contains(logs.String(), `"msg":"switched to a newer checkpoint","checkpoint":"epoch-0002","previous":"epoch-0001"`) {
		t.Errorf("no log line of the switch in:\n%s", lastLines(logs.String(), 5))
	}
	t.Logf("answers by checkpoint: %v", seen)
}

// TestReloadFailure: a broken newer checkpoint is logged once, and the server
// keeps answering with the model it has.
func TestReloadFailure(t *testing.T) {
	dir := copyDir(t, testModel(t))
	_, ts, logs := newServer(t, Config{ModelDir: dir, Poll: 10 * time.Millisecond})
	broken := filepath.Join(dir, "epoch-0009")
	if err := os.MkdirAll(broken, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(broken, train.StateFile), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the failure to be logged", func() bool {
		return strings.Contains(logs.String(), "loading a newer checkpoint failed")
	})
	time.Sleep(50 * time.Millisecond)
	if n := strings.Count(logs.String(), "loading a newer checkpoint failed"); n != 1 {
		t.Errorf("the failure was logged %d times, want once", n)
	}
	var got PredictResponse
	if res := post(t, ts.URL+"/v1/predict", "image/png", pngOf(t, 0), &got); res.StatusCode != 200 || got.Model != "epoch-0001" {
		t.Errorf("HTTP %d from %q, want 200 from epoch-0001", res.StatusCode, got.Model)
	}
	b := get(t, ts.URL+"/metrics")
	if !strings.Contains(b, `gopherdl_model_reloads_total{result="error"} 1`+"\n") {
		t.Errorf("/metrics should count one failed reload (a checkpoint that failed is not tried again until it changes):\n%s", b)
	}
}

// TestGracefulDrain: a request in flight when the shutdown starts completes, and
// Serve returns nil after it.
func TestGracefulDrain(t *testing.T) {
	g := newGate()
	logs := &syncBuffer{}
	s, addr, cancel, served := listening(t, Config{Logger: slog.New(slog.NewJSONHandler(logs, nil))}, g.source(),
		Timeouts{Drain: 20 * time.Second})
	g.armed.Store(true)
	url := "http://" + addr

	type answer struct {
		code int
		body PredictResponse
		err  error
	}
	answered := make(chan answer, 1)
	go func() {
		var a answer
		res, err := http.Post(url+"/v1/predict", "image/png", strings.NewReader(string(pngOf(t, 0))))
		if err != nil {
			a.err = err
		} else {
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			a.code, a.err = res.StatusCode, json.Unmarshal(b, &a.body)
		}
		answered <- a
	}()
	<-g.entered // the request is in the model
	cancel()    // SIGTERM
	waitFor(t, 5*time.Second, "the drain to start", func() bool { return strings.Contains(logs.String(), "draining") })
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Errorf("new connections are still accepted while draining")
	}
	time.Sleep(100 * time.Millisecond)
	select {
	case err := <-served:
		t.Fatalf("Serve returned (%v) with a request in flight", err)
	default:
	}
	close(g.release)
	a := <-answered
	if a.err != nil || a.code != 200 || len(a.body.Predictions) == 0 {
		t.Fatalf("the request in flight: HTTP %d, %v", a.code, a.err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if !s.draining.Load() {
		t.Errorf("not marked as draining")
	}
}

// TestReadyzWhileDraining: /readyz answers 503 once the server is shutting down.
func TestReadyzWhileDraining(t *testing.T) {
	s, ts, _ := newServer(t, Config{})
	s.draining.Store(true)
	var got api.Error
	if res := do(t, mustRequest(t, "GET", ts.URL+"/readyz"), &got); res.StatusCode != 503 || got.Error != "shutting down" {
		t.Errorf("HTTP %d %q, want 503 shutting down", res.StatusCode, got.Error)
	}
	if res := do(t, mustRequest(t, "GET", ts.URL+"/healthz"), nil); res.StatusCode != 200 {
		t.Errorf("/healthz: HTTP %d while draining, want 200", res.StatusCode)
	}
}

// TestTimeouts: a client that stops sending its headers, or keeps an idle
// connection, is cut off by the http.Server's timeouts.
func TestTimeouts(t *testing.T) {
	_, addr, cancel, served := listening(t, Config{}, trainSource{},
		Timeouts{ReadHeader: 200 * time.Millisecond, Read: 300 * time.Millisecond, Idle: 300 * time.Millisecond})
	defer func() {
		cancel()
		<-served
	}()
	closedWithin := func(what, send string, d time.Duration) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		start := time.Now()
		conn.Write([]byte(send))
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		r := bufio.NewReader(conn)
		if strings.HasSuffix(send, "\r\n\r\n") {
			res, err := http.ReadResponse(r, nil)
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
		_, err = r.ReadByte()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("%s: the connection stayed open for 5s", what)
		} else if took := time.Since(start); took > d {
			t.Errorf("%s: closed after %v, want within %v", what, took, d)
		}
	}
	closedWithin("slow headers", "POST /v1/predict HTTP/1.1\r\nHost: x\r\n", 2*time.Second)
	closedWithin("idle keep-alive", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 2*time.Second)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// TestClosed: after Close, a prediction is refused with 503 at once.
func TestClosed(t *testing.T) {
	s, ts, _ := newServer(t, Config{})
	s.Close()
	var got api.Error
	res := post(t, ts.URL+"/v1/predict", "image/png", pngOf(t, 0), &got)
	if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(got.Error, "shutting down") {
		t.Errorf("HTTP %d %q, want 503 shutting down", res.StatusCode, got.Error)
	}
}

// TestReloadNow: Reload loads the folder's newest checkpoint on demand.
func TestReloadNow(t *testing.T) {
	s, ts, logs := newServer(t, Config{})
	before := s.model.Load()
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	after := s.model.Load()
	if after == before || after.name != "epoch-0001" || !after.loadedAt.After(before.loadedAt) {
		t.Errorf("after Reload: %+v", after)
	}
	if !strings.Contains(logs.String(), `"msg":"reloaded the checkpoint","checkpoint":"epoch-0001"`) {
		t.Errorf("no log line of the reload")
	}
	b := get(t, ts.URL+"/metrics")
	if !strings.Contains(b, `gopherdl_model_reloads_total{result="ok"} 1`) {
		t.Errorf("/metrics counts no reload")
	}
}

// TestQueueHoldsTheLargestRequest: a queue shorter than the most images a request
// may carry would answer such requests 503 forever; New refuses it.
func TestQueueHoldsTheLargestRequest(t *testing.T) {
	if _, err := New(Config{ModelDir: t.TempDir(), MaxQueue: 4, MaxFiles: 8}); err == nil || !strings.Contains(err.Error(), "max queue 4 is below max files 8") {
		t.Errorf("New with MaxQueue < MaxFiles: %v", err)
	}
}

// TestExplainsOverlap: explanations run side by side inside the model call, up to
// MaxExplains at once (measured inside the call, where a lock in the server would
// show), and the others wait their turn; one answers while a batch of predictions
// is still inside the model.
func TestExplainsOverlap(t *testing.T) {
	const slots = 3
	var mu sync.Mutex
	inside, most := 0, 0
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	var armed atomic.Bool
	hook := func() {
		mu.Lock()
		inside++
		most = max(most, inside)
		mu.Unlock()
		<-release
		mu.Lock()
		inside--
		mu.Unlock()
	}
	g := newGate()
	_, ts, _ := newServerWith(t, Config{MaxExplains: slots}, withHooks(&armed, g.hook, hook))
	t.Cleanup(free) // registered after the server's, so it runs first: no handler left blocked
	t.Cleanup(func() { close(g.release) })
	armed.Store(true)
	img := pngOf(t, 3)
	go func() {
		if res, err := http.Post(ts.URL+"/v1/predict", "image/png", strings.NewReader(string(img))); err == nil {
			res.Body.Close()
		}
	}()
	<-g.entered // a batch is inside the model, and stays there

	n := slots + 3
	codes := make(chan int, n)
	for range n {
		go func() {
			res, err := http.Post(ts.URL+"/v1/explain", "image/png", strings.NewReader(string(img)))
			if err != nil {
				codes <- 0
				return
			}
			res.Body.Close()
			codes <- res.StatusCode
		}()
	}
	waitFor(t, 10*time.Second, "every slot taken", func() bool { mu.Lock(); defer mu.Unlock(); return inside >= slots })
	time.Sleep(200 * time.Millisecond) // room for the others to get in, were they not bounded
	mu.Lock()
	if most != slots {
		t.Errorf("%d saliency maps computed at once, want %d (MaxExplains)", most, slots)
	}
	mu.Unlock()
	free()
	for range n {
		if code := <-codes; code != http.StatusOK {
			t.Errorf("an explanation: HTTP %d, want 200 once a slot frees", code)
		}
	}
}

// TestNotReadyBeforeClosing: with Timeouts.NotReady, a shutdown first turns /readyz
// to 503 while predictions are still answered on new connections (what a load
// balancer needs to stop sending traffic), and only then closes the port.
func TestNotReadyBeforeClosing(t *testing.T) {
	const notReady = 3 * time.Second
	s, addr, cancel, served := listening(t, Config{}, trainSource{}, Timeouts{NotReady: notReady})
	url := "http://" + addr
	waitFor(t, 5*time.Second, "the server to answer", func() bool {
		res, err := http.Get(url + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	})
	cancel() // SIGTERM
	start := time.Now()
	waitFor(t, notReady/2, "/readyz to turn 503", func() bool { return s.draining.Load() })
	// New connections, not kept-alive ones: the port is still open.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := client.Get(url + "/readyz")
	if err != nil {
		t.Fatalf("/readyz during the not-ready period: %v (the port closed already)", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz during the not-ready period: HTTP %d, want 503", res.StatusCode)
	}
	res, err = client.Post(url+"/v1/predict", "image/png", strings.NewReader(string(pngOf(t, 0))))
	if err != nil {
		t.Fatalf("a prediction during the not-ready period: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("a prediction during the not-ready period: HTTP %d, want 200", res.StatusCode)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if took := time.Since(start); took < notReady {
		t.Errorf("Serve returned %v after the shutdown began, before NotReady (%v) ran out", took, notReady)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Errorf("the port still accepts connections after Serve returned")
	}
}
