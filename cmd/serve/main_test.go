package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gopherdl/gopherdl/lib/data/embedded"
	"github.com/gopherdl/gopherdl/lib/nn"
	"github.com/gopherdl/gopherdl/lib/serve"
	"github.com/gopherdl/gopherdl/lib/train"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// walkthroughOut trains a small model into OUT/checkpoints, as cmd/walkthrough -out
// OUT does.
func walkthroughOut(t *testing.T) string {
	t.Helper()
	out := t.TempDir()
	trainDS, testDS := embedded.MustLoad()
	cfg := train.DefaultConfig()
	cfg.Epochs, cfg.Quiet, cfg.CheckpointDir = 1, true, filepath.Join(out, "checkpoints")
	if _, err := train.New(nn.Net(10), cfg).Fit(context.Background(), trainDS.Head(300), testDS.Head(100)); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSIGTERM: the command serves a walkthrough folder, and SIGTERM makes run
// return nil (exit 0) after draining.
func TestSIGTERM(t *testing.T) {
	out := walkthroughOut(t)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-model", out, "-addr", "127.0.0.1:0", "-poll", "0"}, logs) }()
	addr := regexp.MustCompile(`"msg":"serving","addr":"([^"]+)"`)
	deadline := time.Now().Add(30 * time.Second)
	var m []string
	for m = addr.FindStringSubmatch(logs.String()); m == nil; m = addr.FindStringSubmatch(logs.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("the server did not start:\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	res, err := http.Get("http://" + m[1] + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("/healthz: HTTP %d", res.StatusCode)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return after SIGTERM")
	}
	for _, want := range []string{`"msg":"model loaded","checkpoint":"epoch-0001"`, `"msg":"shutting down: draining requests in flight"`, `"msg":"stopped"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("no %s in the logs:\n%s", want, logs)
		}
	}
}

func TestUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "-model is required"},
		{[]string{"-model", "x", "extra"}, `unexpected argument "extra"`},
		{[]string{"-model", "x", "-log", "xml"}, `-log "xml": want json or text`},
		{[]string{"-nope"}, "flag provided but not defined: -nope"},
	} {
		var stderr bytes.Buffer
		err := run(context.Background(), c.args, &stderr)
		if !errors.Is(err, errUsage) || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%q: %v, %q; want usage error saying %q", c.args, err, stderr.String(), c.want)
		}
	}
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"-model", filepath.Join(t.TempDir(), "missing")}, &stderr)
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("a missing folder: %v", err)
	}
}

// TestPollFlag: -poll 0 reaches the server as 0 (never look for a newer
// checkpoint); the default is serve.DefaultPoll.
func TestPollFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		want time.Duration
	}{{[]string{"-model", "x"}, serve.DefaultPoll}, {[]string{"-model", "x", "-poll", "0"}, 0}, {[]string{"-model", "x", "-poll", "5s"}, 5 * time.Second}} {
		o, err := parse(c.args, io.Discard)
		if err != nil || o.cfg.Poll != c.want {
			t.Errorf("%q: poll %v, %v; want %v", c.args, o.cfg.Poll, err, c.want)
		}
	}
}
