package nn_test

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/nn"
	"github.com/gopherdl/gopherdl/lib/train"
)

// TestTrainStepStress runs many training steps of the article's CNN on the pure-Go
// backend under several worker-pool and executor settings, and fails (with every
// goroutine's stack) if a step does not finish within a minute: the check for the
// worker-pool deadlock that several concurrent matrix products caused in compute
// v0.1.4. It takes minutes, so it only runs when GOPHERDL_STRESS_STEPS is set to the
// number of steps per setting:
//
//	GOPHERDL_STRESS_STEPS=200 GOEXPERIMENT=simd go test ./lib/nn -run Stress -v -timeout 1h
func TestTrainStepStress(t *testing.T) {
	steps, _ := strconv.Atoi(os.Getenv("GOPHERDL_STRESS_STEPS"))
	if steps <= 0 {
		t.Skip("set GOPHERDL_STRESS_STEPS to run")
	}
	configs := []string{"go", "go:parallelism=1", "go:parallelism=2", "go:parallelism=8",
		"go:parallelism=-1", "go:num_executors=1", "go:num_executors=32", "go:ops_parallel",
		"go:parallelism=1,num_executors=16,ops_parallel"}
	for _, cfg := range configs {
		for _, s := range []struct{ c, h, w int }{{3, 32, 32}, {1, 28, 28}} {
			t.Run(fmt.Sprintf("%s/%dx%dx%d", cfg, s.c, s.h, s.w), func(t *testing.T) {
				b, err := train.NewBackend(cfg)
				if err != nil {
					t.Fatal(err)
				}
				const batch = 64
				ds := data.Synthetic(batch*4, s.h, s.w, s.c, data.CIFAR10Classes)
				c := train.DefaultConfig()
				c.Quiet = true
				m := train.New(b, nn.Net(10), c)
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
						finished := make(chan error, 1)
						go func() {
							_, err := m.Step(bt)
							finished <- err
						}()
						select {
						case err := <-finished:
							if err != nil {
								t.Fatal(err)
							}
						case <-time.After(time.Minute):
							buf := make([]byte, 1<<22)
							buf = buf[:runtime.Stack(buf, true)]
							t.Fatalf("step %d did not finish in a minute (deadlock?); goroutines:\n%s", done+1, buf)
						}
						done++
					}
				}
			})
		}
	}
}
