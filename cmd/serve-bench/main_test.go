package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary be the server of a measurement, as the command's
// own binary is.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		if err := child(os.Args[1:]); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestShortRun: a short load test of both modes ends with no error and prints
// every figure.
func TestShortRun(t *testing.T) {
	var out bytes.Buffer
	err := run([]string{"-clients", "4", "-duration", "1s", "-warmup", "200ms", "-requests", "300", "-eval-runs", "1"}, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"CPU: ", "batched (max batch 32)", "single (max batch 1)", "req/s", "p99 ms", "peak RSS", "batching: "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in:\n%s", want, out.String())
		}
	}
	t.Log("\n" + out.String())
}

// TestHostile: 200 uploads of 8 MB at once (a PNG signature, then noise) each get a
// JSON 4xx or 5xx while the server's peak RSS stays under 400 MB; with 2,000
// connections holding half-sent requests, /readyz still answers on a new
// connection within milliseconds, and predictions go through.
func TestHostile(t *testing.T) {
	work := t.TempDir()
	o := options{model: filepath.Join(work, "checkpoints"), serverLog: filepath.Join(work, "server.log"),
		uploads: 200, uploadBytes: 8_000_000, slowClients: 2000}
	if err := trainSmall(o.model); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	b, err := bomb(o, o.model, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if b.peakMB >= 400 {
		t.Errorf("peak RSS %.0f MB under the upload bomb, want under 400 MB", b.peakMB)
	}
	s, err := slow(o, o.model, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if p99 := s.ready[len(s.ready)*99/100]; p99 > 500*time.Millisecond {
		t.Errorf("/readyz p99 %v beside 2,000 slow clients, want milliseconds", p99)
	}
	t.Logf("CPU: %s\n%s", cpuModel(), out.String())
}
