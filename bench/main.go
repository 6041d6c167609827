// Command bench measures the article's CNN training and evaluation speed and peak
// memory on gopherdl (GoMLX, the chosen backend) side by side with the same model in
// PyTorch (torch_peer.py, Debian's python3-torch, 2 threads), on identical shapes and
// batch size, alternating the two sides. Each side runs in its own process, so peak
// RSS is each side's own.
//
//	go run ./bench                  # 3x32x32 and 1x28x28, batch 64, 2 rounds
//	go run ./bench -shapes 3x32x32 -rounds 3 -steps 80
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

func main() {
	shapes := flag.String("shapes", "3x32x32,1x28x28", "comma-separated CxHxW shapes")
	batch := flag.Int("batch", 64, "batch size")
	steps := flag.Int("steps", 60, "timed steps per measurement")
	rounds := flag.Int("rounds", 2, "alternating rounds (the median is reported)")
	backend := flag.String("backend", "auto", "gopherdl backend")
	side := flag.String("side", "", "internal: run one Go measurement (CxHxW) and print JSON")
	python := flag.String("python", "/usr/bin/python3", "Python with torch for the peer")
	peer := flag.String("peer", "bench/torch_peer.py", "the PyTorch side")
	flag.Parse()
	if *side != "" {
		if err := goSide(*side, *batch, *steps, *backend); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := compare(strings.Split(*shapes, ","), *batch, *steps, *rounds, *backend, *python, *peer); err != nil {
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

// child runs a measurement in a new process and returns its result and peak RSS.
func child(name string, args ...string) (Result, error) {
	cmd := exec.Command(name, args...)
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

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func compare(shapes []string, batch, steps, rounds int, backend, python, peer string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	torchErr := exec.Command(python, "-c", "import torch").Run()
	if torchErr != nil {
		fmt.Printf("PyTorch side skipped: %s cannot import torch (Debian: apt-get install python3-torch)\n", python)
	}
	fmt.Printf("CPU: %s (%d cores)\n", cpuModel(), runtime.NumCPU())
	chosen, err := backendpkg.New(backend)
	if err != nil {
		return err
	}
	fmt.Printf("gopherdl: %s, backend %s, GOMAXPROCS %d\n", goVersions(), chosen, runtime.GOMAXPROCS(0))
	if torchErr == nil {
		fmt.Printf("PyTorch: %s\n", torchVersion(python))
	}
	fmt.Printf("batch %d, %d timed steps per side, median of %d alternating rounds; each side in its own process\n\n", batch, steps, rounds)
	fmt.Printf("%-8s | %21s | %21s | %19s\n", "", "train images/s", "eval images/s", "peak RSS MB")
	fmt.Printf("%-8s | %6s %6s %7s | %6s %6s %7s | %5s %5s %7s\n", "CxHxW", "go", "torch", "go/pt", "go", "torch", "go/pt", "go", "torch", "go/pt")
	for _, shape := range shapes {
		sh, err := data.ParseShape(shape)
		if err != nil {
			return err
		}
		var gt, ge, gr, tt, te, tr []float64
		for range rounds {
			g, err := child(self, "-side", shape, "-batch", fmt.Sprint(batch), "-steps", fmt.Sprint(steps), "-backend", backend)
			if err != nil {
				return err
			}
			gt, ge, gr = append(gt, g.TrainImagesPerSecond), append(ge, g.EvalImagesPerSecond), append(gr, g.PeakRSSMB)
			if torchErr == nil {
				p, err := child(python, peer, fmt.Sprint(sh.Channels), fmt.Sprint(sh.Height), fmt.Sprint(sh.Width), "--batch", fmt.Sprint(batch), "--steps", fmt.Sprint(steps), "--threads", fmt.Sprint(threads))
				if err != nil {
					return err
				}
				tt, te, tr = append(tt, p.TrainImagesPerSecond), append(te, p.EvalImagesPerSecond), append(tr, p.PeakRSSMB)
			}
		}
		if torchErr != nil {
			fmt.Printf("%-8s | %6.0f %6s %7s | %6.0f %6s %7s | %5.0f %5s %7s\n", shape, median(gt), "-", "-", median(ge), "-", "-", median(gr), "-", "-")
			continue
		}
		fmt.Printf("%-8s | %6.0f %6.0f %6.2fx | %6.0f %6.0f %6.2fx | %5.0f %5.0f %6.2fx\n", shape,
			median(gt), median(tt), median(gt)/median(tt), median(ge), median(te), median(ge)/median(te),
			median(gr), median(tr), median(gr)/median(tr))
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

// torchVersion asks the peer's Python for torch's version and its thread count.
func torchVersion(python string) string {
	out, err := exec.Command(python, "-c", "import torch; print(torch.__version__)").Output()
	if err != nil {
		return "unknown"
	}
	return fmt.Sprintf("torch %s, %d threads", strings.TrimSpace(string(out)), threads)
}
