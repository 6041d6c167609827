// Command bench measures the article's CNN training and evaluation speed and peak
// memory on gopherdl (GoMLX, the chosen backend) side by side with the same model in
// PyTorch (torch_peer.py, Debian's python3-torch, as many threads as Go may use), on
// identical shapes and batch size, alternating the sides. Each side runs in its own
// process, so peak RSS is each side's own.
//
// A busy neighbour spoils such a comparison (PyTorch's OpenMP threads lose about half
// their speed to one; the Go side barely moves), so every run of a side is watched:
// the machine's busy CPU time from /proc/stat over the run, less the benchmark's own
// (getrusage of this process and of the child it waited for), is what other processes
// took. A round in which they took more than -quiet cores (a tenth of a core by
// default) during any side is contended: it is counted, left out of the figures and
// replaced by another round, -retries at most per shape, after waiting (-wait at
// most) for the machine to be quiet. Best, median and spread come from
// quiet rounds only; without one, no ratio is printed.
//
// PyTorch runs with glibc's malloc tuned (peerMalloc): with the defaults it spends
// about 30 % of its time in the kernel on page faults on these machines.
// -peer-default runs it with glibc's defaults too, as a third side.
//
//	go run ./bench                  # 3x32x32 and 1x28x28, batch 64, 3 quiet rounds
//	go run ./bench -shapes 3x32x32 -rounds 5 -steps 80 -retries 10 -peer-default
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/gomlx/gomlx/core/tensors"

	backendpkg "github.com/gopherdl/gopherdl/lib/backend"
	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/data/datasets"
	"github.com/gopherdl/gopherdl/lib/nn"
	"github.com/gopherdl/gopherdl/lib/train"
)

// Result is one side's figures for one shape.
type Result struct {
	TrainImagesPerSecond float64 `json:"train_images_per_second"`
	EvalImagesPerSecond  float64 `json:"eval_images_per_second"`
	PeakRSSMB            float64 `json:"peak_rss_mb"`
	Version              string  `json:"version"`
}

// threads is the number of threads the PyTorch side uses: the cores this process may
// use, as the Go side's backend uses them.
var threads = runtime.GOMAXPROCS(0)

// peerMalloc is the environment the PyTorch side runs with: one malloc arena and
// no mmap or trimming below 1 GB, so freed tensors are reused rather than returned
// to the kernel and faulted in again on the next step.
var peerMalloc = []string{"MALLOC_ARENA_MAX=1", "MALLOC_MMAP_THRESHOLD_=1000000000", "MALLOC_TRIM_THRESHOLD_=1000000000"}

// options are the command's flags.
type options struct {
	shapes      []string
	batch       int
	steps       int
	rounds      int
	retries     int
	quiet       float64
	wait        time.Duration
	backend     string
	python      string
	peer        string
	peerDefault bool
}

func main() {
	var o options
	shapes := flag.String("shapes", "3x32x32,1x28x28", "comma-separated CxHxW shapes")
	flag.IntVar(&o.batch, "batch", 64, "batch size")
	flag.IntVar(&o.steps, "steps", 60, "timed steps per measurement")
	flag.IntVar(&o.rounds, "rounds", 3, "quiet alternating rounds wanted per shape")
	flag.IntVar(&o.retries, "retries", 3, "rounds run, at most, per shape in place of contended ones")
	flag.Float64Var(&o.quiet, "quiet", quietCores, "cores other processes may use during a round before it is contended")
	flag.DurationVar(&o.wait, "wait", 30*time.Second, "after a contended round, wait this long at most for the machine to be quiet")
	flag.StringVar(&o.backend, "backend", "auto", "gopherdl backend")
	side := flag.String("side", "", "internal: run one Go measurement (CxHxW) and print JSON")
	flag.StringVar(&o.python, "python", "/usr/bin/python3", "Python with torch for the peer")
	flag.StringVar(&o.peer, "peer", "bench/torch_peer.py", "the PyTorch side")
	flag.BoolVar(&o.peerDefault, "peer-default", false, "also run the PyTorch side with glibc's default malloc")
	flag.Parse()
	if *side != "" {
		if err := goSide(*side, o.batch, o.steps, o.backend); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	o.shapes = strings.Split(*shapes, ",")
	if err := compare(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// goSide measures gopherdl in this process. Both sides time the same work: training
// steps (forward, loss, backward, SGD update) and inference steps (forward and
// log-softmax) on batches built before the clock starts; each step gets a copy of a
// pre-built batch (the tensors are consumed), a 0.8 MB copy at most.
func goSide(shape string, batch, steps int, backendName string) error {
	sh, err := data.ParseShape(shape)
	if err != nil {
		return err
	}
	b, err := backendpkg.New(backendName)
	if err != nil {
		return err
	}
	ds := data.Synthetic(batch*8, sh.Height, sh.Width, sh.Channels, datasets.CIFAR10Classes())
	cfg := train.DefaultConfig()
	cfg.BatchSize, cfg.Quiet = batch, true
	m := train.New(nn.Net(10), cfg)
	m.Backend = b
	if _, err := m.Evaluate(ds.Head(batch)); err != nil { // binds the shapes
		return err
	}
	// Eight batches, built once.
	var images [][]float32
	var labels [][]int32
	loader := data.NewLoader(ds, batch, false)
	for bt, err := range loader.Batches() {
		if err != nil {
			return err
		}
		images = append(images, tensors.MustCopyFlatData[float32](bt.Images))
		labels = append(labels, tensors.MustCopyFlatData[int32](bt.Labels))
		bt.Images.FinalizeAll()
		bt.Labels.FinalizeAll()
	}
	batchOf := func(i int) data.Batch {
		j := i % len(images)
		idx := make([]int, batch)
		return data.Batch{
			Images:  tensors.FromFlatDataAndDimensions(slices.Clone(images[j]), batch, sh.Height, sh.Width, sh.Channels),
			Labels:  tensors.FromFlatDataAndDimensions(slices.Clone(labels[j]), batch, 1),
			Indices: idx,
		}
	}
	timeSteps := func(n int, step func(data.Batch) error) (time.Duration, error) {
		start := time.Now()
		for i := range n {
			if err := step(batchOf(i)); err != nil {
				return 0, err
			}
		}
		return time.Since(start), nil
	}
	trainStep := func(bt data.Batch) error { _, err := m.Step(bt); return err }
	evalStep := func(bt data.Batch) error { _, err := m.EvalStep(bt); return err }
	if _, err := timeSteps(5, trainStep); err != nil { // warm-up: compilation
		return err
	}
	el, err := timeSteps(steps, trainStep)
	if err != nil {
		return err
	}
	res := Result{TrainImagesPerSecond: float64(steps*batch) / el.Seconds()}
	if _, err := timeSteps(2, evalStep); err != nil {
		return err
	}
	if el, err = timeSteps(steps, evalStep); err != nil {
		return err
	}
	res.EvalImagesPerSecond = float64(steps*batch) / el.Seconds()
	res.Version = goVersions()
	return json.NewEncoder(os.Stdout).Encode(res)
}

// goVersions names the Go side's software: Go, GoMLX, its compute backends, and
// the GOEXPERIMENT the binary was built with.
func goVersions() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return runtime.Version()
	}
	parts := []string{bi.GoVersion}
	for _, d := range bi.Deps {
		switch d.Path {
		case "github.com/gomlx/gomlx", "github.com/gomlx/compute":
			parts = append(parts, strings.TrimPrefix(d.Path, "github.com/gomlx/")+" "+d.Version)
		}
	}
	for _, st := range bi.Settings {
		if st.Key == "GOEXPERIMENT" {
			parts = append(parts, "GOEXPERIMENT="+st.Value)
		}
	}
	return strings.Join(parts, ", ")
}

// child runs a measurement in a new process with the environment env and returns its
// result and peak RSS.
func child(env []string, name string, args ...string) (Result, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return Result{}, fmt.Errorf("%s %s: %w\n%s", filepath.Base(name), strings.Join(args, " "), err, errb.String())
	}
	var r Result
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		return Result{}, fmt.Errorf("%s: output %q: %w", name, out.String(), err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.PeakRSSMB = float64(ru.Maxrss) / 1024
	}
	return r, nil
}

// peerEnv is this process's environment without glibc's malloc variables, plus
// extra.
func peerEnv(extra []string) []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return slices.ContainsFunc(peerMalloc, func(p string) bool {
			name, _, _ := strings.Cut(p, "=")
			return strings.HasPrefix(kv, name+"=")
		})
	})
	return append(env, extra...)
}

// sides lists what each round runs, in order: the Go side, then the PyTorch side
// when torch imports, then PyTorch with glibc's default malloc when asked.
func sides(o options, withTorch bool) ([]side, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	all := []side{{"go", func(sh data.Shape) (Result, error) {
		return child(os.Environ(), self, "-side", sh.String(), "-batch", fmt.Sprint(o.batch), "-steps", fmt.Sprint(o.steps), "-backend", o.backend)
	}}}
	if !withTorch {
		return all, nil
	}
	peer := func(env []string) func(data.Shape) (Result, error) {
		return func(sh data.Shape) (Result, error) {
			return child(env, o.python, o.peer, fmt.Sprint(sh.Channels), fmt.Sprint(sh.Height), fmt.Sprint(sh.Width),
				"--batch", fmt.Sprint(o.batch), "--steps", fmt.Sprint(o.steps), "--threads", fmt.Sprint(threads))
		}
	}
	all = append(all, side{"torch", peer(peerEnv(peerMalloc))})
	if o.peerDefault {
		all = append(all, side{"torch-default", peer(peerEnv(nil))})
	}
	return all, nil
}

func compare(o options) error {
	torchErr := exec.Command(o.python, "-c", "import torch").Run()
	if torchErr != nil {
		fmt.Printf("PyTorch side skipped: %s cannot import torch (Debian: apt-get install python3-torch)\n", o.python)
	}
	fmt.Printf("CPU: %s (%d cores)\n", cpuModel(), runtime.NumCPU())
	fmt.Printf("load average before: %s\n", loadAverage())
	chosen, err := backendpkg.New(o.backend)
	if err != nil {
		return err
	}
	fmt.Printf("gopherdl: %s, backend %s, GOMAXPROCS %d\n", goVersions(), chosen, runtime.GOMAXPROCS(0))
	if torchErr == nil {
		fmt.Printf("PyTorch (torch): %s, glibc malloc %s\n", torchVersion(o.python), strings.Join(peerMalloc, " "))
		if o.peerDefault {
			fmt.Println("PyTorch (torch-default): the same with glibc's default malloc")
		}
	}
	all, err := sides(o, torchErr == nil)
	if err != nil {
		return err
	}
	fmt.Printf("batch %d, %d timed steps per side, %d quiet alternating rounds wanted per shape, each side in its own process\n", o.batch, o.steps, o.rounds)
	fmt.Printf("a round is contended when other processes used more than %.2f of a core during a side\n", o.quiet)
	fmt.Printf("  (busy time from /proc/stat less the benchmark's own rusage); contended rounds are left out and\n")
	fmt.Printf("  replaced by up to %d more rounds per shape, each after waiting (%v at most) for a quiet machine\n", o.retries, o.wait)
	for _, s := range o.shapes {
		sh, err := data.ParseShape(s)
		if err != nil {
			return err
		}
		fmt.Println()
		rounds, err := runRounds(os.Stdout, sh, all, plan{
			want: o.rounds, retries: o.retries, limit: o.quiet, measure: measure,
			settle: func() (Load, error) { return waitQuiet(o.quiet, o.wait) },
		})
		if err != nil {
			return err
		}
		report(os.Stdout, sh.String(), names(all), rounds, o.quiet)
	}
	return nil
}

// cpuModel reads the CPU's model name (Linux); ratios move with it.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown (" + runtime.GOARCH + ")"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown (" + runtime.GOARCH + ")"
}

// loadAverage is the kernel's 1, 5 and 15 minute load averages, as uptime shows them.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], ", ")
}

// torchVersion asks the peer's Python for torch's version and its thread count.
func torchVersion(python string) string {
	out, err := exec.Command(python, "-c", "import torch; print(torch.__version__)").Output()
	if err != nil {
		return "unknown"
	}
	return fmt.Sprintf("torch %s, %d threads", strings.TrimSpace(string(out)), threads)
}
