package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// prometheusBinary finds Prometheus's server: missing, the test fails under CI and is
// skipped elsewhere, saying what to install.
func prometheusBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("prometheus"); err == nil {
		return p
	}
	const msg = "no prometheus to check the quantiles against: apt-get install prometheus"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// promQuery asks a Prometheus server for one number.
func promQuery(addr, query string) (float64, error) {
	res, err := http.Get("http://" + addr + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	var out struct {
		Status string
		Error  string
		Data   struct {
			Result []struct {
				Value [2]any
			}
		}
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return 0, err
	}
	if out.Status != "success" || len(out.Data.Result) != 1 {
		return 0, fmt.Errorf("%s: %s %s, %d results", query, out.Status, out.Error, len(out.Data.Result))
	}
	s, _ := out.Data.Result[0].Value[1].(string)
	return strconv.ParseFloat(s, 64)
}

// TestQuantileMatchesPrometheus: a real Prometheus scrapes the server; once it has
// the same counts as a reading of ours, its histogram_quantile and our Quantile
// give the same latencies.
func TestQuantileMatchesPrometheus(t *testing.T) {
	bin := prometheusBinary(t)
	c := newServer(t)
	target := strings.TrimPrefix(c.URL, "http://")
	dir := t.TempDir()
	config := fmt.Sprintf("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: serve\n    static_configs:\n      - targets: [%q]\n", target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	prom := exec.CommandContext(ctx, bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
	prom.Stderr, prom.Stdout = nil, nil
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	defer prom.Wait()
	defer cancel()

	imgs := make([]image.Image, 60)
	for i := range imgs {
		imgs[i] = testSet.ToImage(i)
	}
	if _, failed, err := c.PredictEach(context.Background(), 1, imgs, 6); failed > 0 {
		t.Fatal(err)
	}
	ours, err := c.Metrics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	lat := ours.Latency("/v1/predict")
	sel := `{route="/v1/predict"}`
	deadline := time.Now().Add(60 * time.Second)
	for {
		n, err := promQuery(addr, "sum(gopherdl_http_request_duration_seconds_count"+sel+")")
		if err == nil && n == lat.Count {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus did not scrape the server's %v predictions: %v, %v", lat.Count, n, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	for _, q := range []float64{0.1, 0.5, 0.9, 0.99} {
		want, err := promQuery(addr, fmt.Sprintf("histogram_quantile(%v, sum by (le) (gopherdl_http_request_duration_seconds_bucket%s))", q, sel))
		if err != nil {
			t.Fatal(err)
		}
		if got := lat.Quantile(q); math.Abs(got-want) > 1e-9*want {
			t.Errorf("quantile %v: %v, Prometheus says %v", q, got, want)
		}
		t.Logf("p%v: %.3f ms (Prometheus: %.3f ms)", 100*q, 1000*lat.Quantile(q), 1000*want)
	}
}
