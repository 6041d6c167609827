package nn_test

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gopherdl/gopherdl/lib/backend"
	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/data/datasets"
	"github.com/gopherdl/gopherdl/lib/nn"
	"github.com/gopherdl/gopherdl/lib/train"
)

// TestTrainStepStress runs many training steps of the article's CNN on the pure-Go
// backend under several worker-pool and executor settings, and fails (with every
// goroutine's stack) if a step does not finish within a minute: the check for the
// worker-pool deadlock that several concurrent matrix products caused in compute
// v0.1.4. By default it runs 2 steps per setting (a smoke test that every setting
// trains); GOPHERDL_STRESS_STEPS sets more, for the real stress run, which takes
// minutes:
//
//	GOPHERDL_STRESS_STEPS=200 GOEXPERIMENT=simd go test ./lib/nn -run Stress -v -timeout 1h
func TestTrainStepStress(t *testing.T) {
	steps := stressSteps(2)
	configs := []string{"go", "go:parallelism=1", "go:parallelism=2", "go:parallelism=8",
		"go:parallelism=-1", "go:num_executors=1", "go:num_executors=32", "go:ops_parallel",
		"go:parallelism=1,num_executors=16,ops_parallel"}
	for _, cfg := range configs {
		for _, s := range []struct{ c, h, w int }{{3, 32, 32}, {1, 28, 28}} {
			t.Run(fmt.Sprintf("%s/%dx%dx%d", cfg, s.c, s.h, s.w), func(t *testing.T) {
				b, err := backend.New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				const batch = 64
				ds := data.Synthetic(batch*4, s.h, s.w, s.c, datasets.CIFAR10Classes())
				c := train.DefaultConfig()
				c.Quiet = true
				m := train.New(nn.Net(10), c)
				m.Backend = b
				loader := data.NewLoader(ds, batch, true)
				done := 0
				for done < steps {
					for bt, err := range loader.Batches() {
						if err != nil {
							t.Fatal(err)
						}
						if done == steps {
							bt.Images.FinalizeAll()
							bt.Labels.FinalizeAll()
							break
						}
						withinAMinute(t, fmt.Sprintf("step %d", done+1), func() error {
							_, err := m.Step(bt)
							return err
						})
						done++
					}
				}
			})
		}
	}
}

// TestConcurrentProductsStress runs, many times under several worker-pool settings,
// a graph whose 24 independent matrix products all become ready at once (the
// situation that deadlocked compute v0.1.4's worker pool), with the same watchdog.
// GOPHERDL_STRESS_STEPS sets the runs per setting, as for TestTrainStepStress
// (default 10).
func TestConcurrentProductsStress(t *testing.T) {
	steps := stressSteps(10)
	for _, cfg := range []string{"go", "go:parallelism=1", "go:parallelism=2", "go:num_executors=1", "go:num_executors=32", "go:ops_parallel"} {
		t.Run(cfg, func(t *testing.T) {
			b, err := backend.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			exec := graph.MustNewExec(b.Compute, func(x *graph.Node) *graph.Node {
				var sum *graph.Node
				for i := range 24 {
					p := graph.MatMul(x, graph.AddScalar(x, float64(i)))
					if sum == nil {
						sum = p
					} else {
						sum = graph.Add(sum, p)
					}
				}
				return graph.ReduceAllSum(sum)
			})
			x := tensors.FromShape(shapes.Make(dtypes.Float32, 192, 192))
			for i := range steps {
				withinAMinute(t, fmt.Sprintf("run %d", i+1), func() error {
					out, err := exec.Exec(x)
					if err == nil {
						out[0].FinalizeAll()
					}
					return err
				})
			}
		})
	}
}

// stressSteps is $GOPHERDL_STRESS_STEPS, or def when it is not set.
func stressSteps(def int) int {
	if n, err := strconv.Atoi(os.Getenv("GOPHERDL_STRESS_STEPS")); err == nil && n > 0 {
		return n
	}
	return def
}

// withinAMinute runs f and fails the test with f's error, or with every goroutine's
// stack when f has not returned after a minute (a deadlock).
func withinAMinute(t *testing.T, what string, f func() error) {
	t.Helper()
	finished := make(chan error, 1)
	go func() { finished <- f() }()
	select {
	case err := <-finished:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		buf := make([]byte, 1<<22)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("%s did not finish in a minute (deadlock?); goroutines:\n%s", what, buf)
	}
}
