package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
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
