package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Process is a model server (cmd/serve) running as a process of its own, as a
// service manager would run it: it outlives the program that started it, which
// matters in a notebook, whose every cell is a program of its own. One cell starts
// it (Start), a later one finds it (Find) and stops it (Stop). Its files are in Dir:
// serve (the binary), serve.log, serve.pid while it runs, serve.addr, and
// serve.status (its exit status) once it has stopped.
type Process struct {
	Dir  string
	Addr string
	PID  int
}

// Options say how Start runs the server.
type Options struct {
	// Addr is the host:port to serve on (default "127.0.0.1:8080").
	Addr string
	// Dir holds the binary, the log and the process's files (default "server").
	Dir string
	// Flags are more of cmd/serve's flags, e.g. "-max-batch", "1".
	Flags []string
	// Binary is a cmd/serve binary to run; "" builds one into Dir with the go command
	// (a minute the first time, a second once its build cache is warm).
	Binary string
	// Watch is a process id: when that process ends, the server gets SIGTERM, so
	// that none is left behind. In a notebook cell, os.Getppid() is the kernel.
	// 0 watches nothing.
	Watch int
	// Ready is how long Start waits for /readyz (default 2 minutes).
	Ready time.Duration
}

// supervise runs the server (its command line is "$@") with its output in
// serve.log and its process id in serve.pid while it runs, sends it SIGTERM if
// process $WATCH goes away first, and writes its exit status to serve.status.
const supervise = `"$@" >> serve.log 2>&1 &
server=$!
echo $server > serve.pid
while kill -0 $server 2>/dev/null; do
	if [ "$WATCH" != 0 ] && ! kill -0 "$WATCH" 2>/dev/null; then kill -TERM $server; break; fi
	sleep 1
done
wait $server
echo $? > serve.status.tmp && mv serve.status.tmp serve.status
rm -f serve.pid`

// Start runs a model server for the model folder (a checkpoint folder, or a
// cmd/walkthrough -out folder) and waits until it is ready. A server that an
// earlier Start left running in the same Dir is stopped first.
func Start(ctx context.Context, model string, o Options) (*Process, error) {
	o = o.withDefaults()
	if p, err := Find(o.Dir); err == nil {
		if _, err := p.Stop(time.Minute); err != nil {
			return nil, err
		}
	}
	if c, err := net.DialTimeout("tcp", o.Addr, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("%s is taken by another program: stop it, or serve on another address", o.Addr)
	}
	bin, err := o.binary(ctx)
	if err != nil {
		return nil, err
	}
	for _, f := range []string{"serve.log", "serve.status", "serve.pid"} {
		os.Remove(filepath.Join(o.Dir, f))
	}
	if err := os.WriteFile(filepath.Join(o.Dir, "serve.addr"), []byte(o.Addr+"\n"), 0o644); err != nil {
		return nil, err
	}
	model, err = modelFromDir(model, o.Dir)
	if err != nil {
		return nil, err
	}
	args := append([]string{"-c", supervise, "supervise", bin, "-model", model, "-addr", o.Addr}, o.Flags...)
	cmd := exec.Command("bash", args...)
	cmd.Dir = o.Dir
	cmd.Env = append(os.Environ(), "WATCH="+strconv.Itoa(o.Watch))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // not stopped by the starter's Ctrl-C
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the server: %w", err)
	}
	go cmd.Wait() // the supervisor outlives a short-lived starter; a long-lived one reaps it
	return waitReady(ctx, o)
}

// modelFromDir returns the model folder as the server, which runs in dir, finds it:
// a relative path (as a notebook names its checkpoints) is made relative to dir, so
// that the server's log names it without this machine's folders.
func modelFromDir(model, dir string) (string, error) {
	if filepath.IsAbs(model) {
		return model, nil
	}
	absModel, err := filepath.Abs(model)
	if err != nil {
		return "", fmt.Errorf("the model folder %s: %w", model, err)
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("the server's folder %s: %w", dir, err)
	}
	rel, err := filepath.Rel(absDir, absModel)
	if err != nil {
		return absModel, nil // no relative path between them (another volume): the absolute one
	}
	return rel, nil
}

func (o Options) withDefaults() Options {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:8080"
	}
	if o.Dir == "" {
		o.Dir = "server"
	}
	if o.Ready <= 0 {
		o.Ready = 2 * time.Minute
	}
	return o
}

// binary returns the server binary's absolute path, building it when none is given.
func (o Options) binary(ctx context.Context) (string, error) {
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return "", err
	}
	if o.Binary != "" {
		return filepath.Abs(o.Binary)
	}
	bin, err := filepath.Abs(filepath.Join(o.Dir, "serve"))
	if err != nil {
		return "", err
	}
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/gopherdl/gopherdl/cmd/serve")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the server (go build github.com/gopherdl/gopherdl/cmd/serve): %w\n%s", err, out)
	}
	return bin, nil
}

// waitReady waits until the server in o.Dir answers /readyz, or stops.
func waitReady(ctx context.Context, o Options) (*Process, error) {
	c := New("http://" + o.Addr)
	deadline := time.Now().Add(o.Ready)
	for time.Now().Before(deadline) {
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		err := c.Ready(rctx)
		cancel()
		if err == nil {
			return Find(o.Dir)
		}
		if _, err := os.Stat(filepath.Join(o.Dir, "serve.status")); err == nil {
			return nil, fmt.Errorf("the server stopped; the end of %s:\n%s", filepath.Join(o.Dir, "serve.log"), Log(o.Dir, 5))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil, fmt.Errorf("the server was not ready after %s: see %s", o.Ready, filepath.Join(o.Dir, "serve.log"))
}

// ErrNotRunning is returned by Find when no server started in the folder runs.
var ErrNotRunning = errors.New("no server is running")

// Find returns the server that Start left running in dir.
func Find(dir string) (*Process, error) {
	b, err := os.ReadFile(filepath.Join(dir, "serve.pid"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, ErrNotRunning)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 || syscall.Kill(pid, 0) != nil {
		return nil, fmt.Errorf("%s: %w", dir, ErrNotRunning)
	}
	// On Linux, make sure the process is the server, not another program that got
	// its id after a restart of the machine.
	if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && !strings.Contains(string(cmdline), "-model") {
		return nil, fmt.Errorf("%s: %w (process %d is another program)", dir, ErrNotRunning, pid)
	}
	addr, err := os.ReadFile(filepath.Join(dir, "serve.addr"))
	if err != nil {
		return nil, err
	}
	return &Process{Dir: dir, Addr: strings.TrimSpace(string(addr)), PID: pid}, nil
}

// Client returns a client of the server.
func (p *Process) Client() *Client { return New("http://" + p.Addr) }

// Stop stops the server as a service manager does: SIGTERM, then it finishes the
// requests in flight and exits. It waits up to timeout and returns the server's exit
// status (0: a clean stop).
func (p *Process) Stop(timeout time.Duration) (int, error) {
	if err := syscall.Kill(p.PID, syscall.SIGTERM); err != nil {
		return 0, fmt.Errorf("stopping the server (process %d): %w", p.PID, err)
	}
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if b, err := os.ReadFile(filepath.Join(p.Dir, "serve.status")); err == nil {
			return strconv.Atoi(strings.TrimSpace(string(b)))
		}
	}
	return 0, fmt.Errorf("the server (process %d) did not stop within %s of SIGTERM", p.PID, timeout)
}

// Log returns the last n lines of the server's log in dir.
func Log(dir string, n int) string {
	b, _ := os.ReadFile(filepath.Join(dir, "serve.log"))
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n") + "\n"
}
