package train

import (
	"fmt"
	"syscall"
	"testing"

	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/data/datasets"
	"github.com/gopherdl/gopherdl/lib/nn"
)

// BenchmarkTrainStep times one SGD step of the article's CNN, batch 64, on the pure-Go
// backend, and reports images/s and the process's CPU time per step (cpu-ms/step: on
// a machine shared with other work, the CPU time of a formulation moves less than
// its wall time). Profile it with
//
//	GOEXPERIMENT=simd go test ./lib/train -run '^$' -bench TrainStep/3x32x32 -cpuprofile cpu.prof
func BenchmarkTrainStep(b *testing.B) {
	for _, s := range []struct{ c, h, w int }{{3, 32, 32}, {1, 28, 28}} {
		b.Run(fmt.Sprintf("%dx%dx%d", s.c, s.h, s.w), func(b *testing.B) {
			const batch = 64
			ds := data.Synthetic(batch*4, s.h, s.w, s.c, datasets.CIFAR10Classes())
			cfg := DefaultConfig()
			cfg.Quiet = true
			m := New(nn.Net(10), cfg)
			m.Backend = goBackend(b)
			if err := m.bind(ds); err != nil {
				b.Fatal(err)
			}
			loader := data.NewLoader(ds, batch, true)
			step := func() {
				for batch, err := range loader.Batches() {
					if err != nil {
						b.Fatal(err)
					}
					if _, err := m.Step(batch); err != nil {
						b.Fatal(err)
					}
					return
				}
			}
			step() // compile
			b.ResetTimer()
			c0 := cpuNanos()
			for range b.N {
				step()
			}
			b.ReportMetric(float64(cpuNanos()-c0)/1e6/float64(b.N), "cpu-ms/step")
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "images/s")
		})
	}
}

// cpuNanos returns the CPU time (user and system) this process has used.
func cpuNanos() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
