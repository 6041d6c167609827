package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gopherdl/gopherdl/lib/data/embedded"
)

// hostile is what a hostile load did to the server.
type hostile struct {
	idleMB, heldMB, peakMB float64         // the server's RSS: before, under the load, its peak
	codes                  map[int]int     // bomb: answers by status (0: none)
	ready                  []time.Duration // slow: /readyz latencies, sorted
}

// bomb sends o.uploads bodies of o.uploadBytes at once (a PNG signature, then
// noise), each on its own connection, and checks that each gets a JSON 4xx or 5xx,
// and reports the server's peak RSS.
func bomb(o options, ckpt string, stdout io.Writer) (hostile, error) {
	srv, err := startServer(o, ckpt)
	if err != nil {
		return hostile{}, err
	}
	defer srv.kill()
	idle := srv.rssMB()
	body := make([]byte, o.uploadBytes)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range body {
		body[i] = byte(rng.Uint32())
	}
	copy(body, "\x89PNG\r\n\x1a\n")
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Minute}
	codes := map[int]int{}
	var bad []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for range o.uploads {
		wg.Go(func() {
			code, err := upload(client, srv.url, body)
			mu.Lock()
			defer mu.Unlock()
			codes[code]++
			if err != nil {
				bad = append(bad, err.Error())
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	h := hostile{idleMB: idle, codes: codes}
	if h.peakMB, err = srv.stop(); err != nil {
		return h, err
	}
	fmt.Fprintf(stdout, "\nbomb: %d uploads of %.1f MB at once (a PNG signature, then noise), answered in %.1fs: %s\n",
		o.uploads, float64(o.uploadBytes)/1e6, took.Seconds(), countCodes(codes))
	fmt.Fprintf(stdout, "bomb: server RSS %.0f MB idle, peak %.0f MB\n", idle, h.peakMB)
	if len(bad) > 0 {
		return h, fmt.Errorf("%d uploads got no JSON error, e.g. %s", len(bad), bad[0])
	}
	return h, nil
}

// upload posts body and checks that the answer is a JSON error.
func upload(client *http.Client, url string, body []byte) (int, error) {
	res, err := client.Post(url+"/v1/predict", "image/png", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return res.StatusCode, err
	}
	var e struct{ Error string }
	if res.StatusCode < 400 || res.Header.Get("Content-Type") != "application/json" || json.Unmarshal(b, &e) != nil || e.Error == "" {
		return res.StatusCode, fmt.Errorf("HTTP %d, %q: %.80q", res.StatusCode, res.Header.Get("Content-Type"), b)
	}
	return res.StatusCode, nil
}

func countCodes(codes map[int]int) string {
	keys := make([]int, 0, len(codes))
	for k := range codes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		name := fmt.Sprintf("HTTP %d", k)
		if k == 0 {
			name = "no answer"
		}
		parts = append(parts, fmt.Sprintf("%d x %s", codes[k], name))
	}
	return strings.Join(parts, ", ")
}

// slow opens o.slowClients connections that hold a half-sent request (half stop
// inside their headers, half inside their body), then measures /readyz on new
// connections, as a load balancer polls it, and checks that predictions still go
// through.
func slow(o options, ckpt string, stdout io.Writer) (hostile, error) {
	srv, err := startServer(o, ckpt)
	if err != nil {
		return hostile{}, err
	}
	defer srv.kill()
	addr := strings.TrimPrefix(srv.url, "http://")
	idle := srv.rssMB()
	conns, err := holdHalfSent(addr, o.slowClients)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	if err != nil {
		return hostile{}, err
	}
	time.Sleep(500 * time.Millisecond) // every connection accepted and read
	h := hostile{idleMB: idle, heldMB: srv.rssMB()}
	if h.ready, err = probeReady(srv.url, 50); err != nil {
		return h, err
	}
	_, testDS := embedded.MustLoad()
	bodies, err := encodeAll(testDS.Head(5))
	if err != nil {
		return h, err
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	for _, b := range bodies {
		if err := predict(context.Background(), client, srv.url, b); err != nil {
			return h, fmt.Errorf("a prediction beside the slow clients: %w", err)
		}
	}
	open := len(conns)
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	if h.peakMB, err = srv.stop(); err != nil {
		return h, err
	}
	lat := h.ready
	fmt.Fprintf(stdout, "\nslow: %d connections holding half-sent requests; /readyz on a new connection, 50 probes: p50 %.1f ms, p99 %.1f ms, max %.1f ms; 5 predictions answered\n",
		open, ms(lat[len(lat)/2]), ms(lat[len(lat)*99/100]), ms(lat[len(lat)-1]))
	fmt.Fprintf(stdout, "slow: server RSS %.0f MB idle, %.0f MB with the connections open, peak %.0f MB\n", h.idleMB, h.heldMB, h.peakMB)
	return h, nil
}

// holdHalfSent opens n connections to addr: the even ones send a prediction's
// headers without their end, the odd ones the headers and half of a 4 kB body.
func holdHalfSent(addr string, n int) ([]net.Conn, error) {
	var conns []net.Conn
	for i := range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return conns, fmt.Errorf("connection %d: %w", i, err)
		}
		conns = append(conns, c)
		head := "POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
		if i%2 == 1 {
			head += "Content-Length: 4096\r\n\r\n" + strings.Repeat("x", 2048)
		}
		if _, err := c.Write([]byte(head)); err != nil {
			return conns, fmt.Errorf("connection %d: %w", i, err)
		}
	}
	return conns, nil
}

// probeReady asks /readyz n times, each on a new connection, and returns the
// latencies, sorted.
func probeReady(url string, n int) ([]time.Duration, error) {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	var lat []time.Duration
	for range n {
		start := time.Now()
		res, err := client.Get(url + "/readyz")
		if err != nil {
			return nil, fmt.Errorf("/readyz beside the slow clients: %w", err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("/readyz beside the slow clients: HTTP %d", res.StatusCode)
		}
		lat = append(lat, time.Since(start))
		time.Sleep(20 * time.Millisecond)
	}
	slices.Sort(lat)
	return lat, nil
}
