package client_test

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopherdl/gopherdl/lib/serve/client"
)

// TestProcess: Start builds cmd/serve and runs it as a process of its own; Find
// finds it again (as a later notebook cell does); Start again replaces it; when the
// watched process (a notebook's kernel) ends, the server drains and exits 0; Stop
// stops it with status 0.
func TestProcess(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "server")
	kernel := exec.Command("sleep", "600")
	if err := kernel.Start(); err != nil {
		t.Fatal(err)
	}
	defer kernel.Process.Kill()
	o := client.Options{Addr: freeAddr(t), Dir: dir, Watch: kernel.Process.Pid, Flags: []string{"-poll", "0"}}
	p, err := client.Start(ctx, modelDir, o)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if p, err := client.Find(dir); err == nil {
			p.Stop(time.Minute)
		}
	}()
	if _, err := p.Client().Predict(ctx, 1, pngOf(t, "", 0)); err != nil {
		t.Fatal(err)
	}
	found, err := client.Find(dir)
	if err != nil || *found != *p {
		t.Fatalf("Find: %+v, %v; Start gave %+v", found, err, p)
	}
	if !strings.Contains(client.Log(dir, 20), `"msg":"serving"`) {
		t.Errorf("the log has no serving line:\n%s", client.Log(dir, 20))
	}

	o.Binary = filepath.Join(dir, "serve") // built by the first Start
	again, err := client.Start(ctx, modelDir, o)
	if err != nil {
		t.Fatal(err)
	}
	if again.PID == p.PID {
		t.Errorf("the second Start kept process %d", p.PID)
	}

	kernel.Process.Kill() // the kernel goes away
	kernel.Wait()
	waitStatus(t, dir, "0")
	if _, err := client.Find(dir); !errors.Is(err, client.ErrNotRunning) {
		t.Errorf("after the kernel ended: %v, want ErrNotRunning", err)
	}

	o.Watch = 0
	p, err = client.Start(ctx, modelDir, o)
	if err != nil {
		t.Fatal(err)
	}
	if status, err := p.Stop(time.Minute); err != nil || status != 0 {
		t.Errorf("Stop: status %d, %v", status, err)
	}
	if !strings.Contains(client.Log(dir, 3), `"msg":"stopped"`) {
		t.Errorf("the log does not end with the drain:\n%s", client.Log(dir, 3))
	}
}

func waitStatus(t *testing.T, dir, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(dir, "serve.status"))
		if err == nil {
			if got := strings.TrimSpace(string(b)); got != want {
				t.Fatalf("exit status %s, want %s; the log:\n%s", got, want, client.Log(dir, 5))
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not stop; the log:\n%s", client.Log(dir, 5))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestStartErrors: an address taken, a model folder that does not load.
func TestStartErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := t.TempDir()
	if _, err := client.Start(context.Background(), modelDir, client.Options{Addr: ln.Addr().String(), Dir: dir}); err == nil || !strings.Contains(err.Error(), "is taken") {
		t.Errorf("a taken address: %v", err)
	}
	bin := filepath.Join(dir, "true")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho no model here >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = client.Start(context.Background(), modelDir, client.Options{Addr: freeAddr(t), Dir: dir, Binary: bin})
	if err == nil || !strings.Contains(err.Error(), "no model here") {
		t.Errorf("a server that exits: %v", err)
	}
}

// TestStartRelativeModel: a model folder named relative to the caller (as a notebook
// names its checkpoints) reaches the server, which runs in Dir, as a path that leads
// to it from there.
func TestStartRelativeModel(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := os.MkdirAll("checkpoints/06-deploy", 0o755); err != nil {
		t.Fatal(err)
	}
	// A stand-in for cmd/serve: it says where its -model folder leads from its own
	// folder, and exits.
	bin := "fake-serve"
	script := "#!/bin/sh\nif [ -d \"$2\" ]; then echo \"found $2\" >&2; else echo \"missing $2 from $(pwd)\" >&2; fi\nexit 3\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := client.Start(context.Background(), "checkpoints/06-deploy", client.Options{Addr: freeAddr(t), Dir: "server", Binary: bin})
	if err == nil || !strings.Contains(err.Error(), "found ../checkpoints/06-deploy") {
		t.Errorf("the server did not find the model folder: %v", err)
	}
}
