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

	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/nn"
	"github.com/gopherdl/gopherdl/lib/progress"
	"github.com/gopherdl/gopherdl/lib/train"
)

// Result is one side's figures for one shape.
type Result struct {
	TrainImagesPerSecond float64 `json:"train_images_per_second"`
	EvalImagesPerSecond  float64 `json:"eval_images_per_second"`
	PeakRSSMB            float64 `json:"peak_rss_mb"`
}

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

func parseShape(s string) (c, h, w int, err error) {
	if _, err := fmt.Sscanf(s, "%dx%dx%d", &c, &h, &w); err != nil || c <= 0 || h <= 0 || w <= 0 {
		return 0, 0, 0, fmt.Errorf("shape %q: want CxHxW, e.g. 3x32x32", s)
	}
	return c, h, w, nil
}

// goSide measures gopherdl in this process.
func goSide(shape string, batch, steps int, backendName string) error {
	c, h, w, err := parseShape(shape)
	if err != nil {
		return err
	}
	progress.Quiet = true
	backend, err := train.NewBackend(backendName)
	if err != nil {
		return err
	}
	n := batch * 8
	ds := data.Synthetic(n, h, w, c, data.CIFAR10Classes)
	cfg := train.DefaultConfig()
	cfg.BatchSize, cfg.Quiet = batch, true
	m := train.New(backend, nn.Net(10), cfg)
	if _, err := m.Evaluate(ds.Head(batch)); err != nil { // binds shapes, normalisation
		return err
	}
	loader := data.NewLoader(ds, batch, true)
	run := func(k int) (time.Duration, error) {
		start := time.Now()
		for done := 0; done < k; {
			for b, err := range loader.Batches() {
				if err != nil {
					return 0, err
				}
				if done == k {
					b.Images.FinalizeAll()
					b.Labels.FinalizeAll()
					break
				}
				if _, err := m.Step(b); err != nil {
					return 0, err
				}
				done++
			}
		}
		return time.Since(start), nil
	}
	if _, err := run(5); err != nil { // warm-up: compilation
		return err
	}
	el, err := run(steps)
	if err != nil {
		return err
	}
	res := Result{TrainImagesPerSecond: float64(steps*batch) / el.Seconds()}
	evalSet := ds.Head(min(n, batch*8))
	if _, err := m.Evaluate(evalSet); err != nil { // warm-up
		return err
	}
	start := time.Now()
	reps := max(1, steps/8)
	for range reps {
		if _, err := m.Evaluate(evalSet); err != nil {
			return err
		}
	}
	res.EvalImagesPerSecond = float64(reps*evalSet.Len()) / time.Since(start).Seconds()
	return json.NewEncoder(os.Stdout).Encode(res)
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
	experiment := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, st := range bi.Settings {
			if st.Key == "GOEXPERIMENT" {
				experiment = st.Value
			}
		}
	}
	fmt.Printf("gopherdl (built with GOEXPERIMENT=%s, %d CPUs) vs PyTorch (2 threads); batch %d, %d timed steps, median of %d alternating rounds\n\n",
		experiment, runtime.NumCPU(), batch, steps, rounds)
	fmt.Printf("%-8s | %21s | %21s | %19s\n", "", "train images/s", "eval images/s", "peak RSS MB")
	fmt.Printf("%-8s | %6s %6s %7s | %6s %6s %7s | %5s %5s %7s\n", "shape", "go", "torch", "go/pt", "go", "torch", "go/pt", "go", "torch", "go/pt")
	for _, shape := range shapes {
		c, h, w, err := parseShape(shape)
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
				p, err := child(python, peer, fmt.Sprint(c), fmt.Sprint(h), fmt.Sprint(w), "--batch", fmt.Sprint(batch), "--steps", fmt.Sprint(steps))
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
