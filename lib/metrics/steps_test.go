package metrics_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/gopherdl/gopherdl/lib/metrics"
)

func TestTrailingMean(t *testing.T) {
	for _, c := range []struct {
		v      []float64
		window int
		want   []float64
	}{
		{[]float64{4, 2, 6, 0, 1}, 2, []float64{4, 3, 4, 3, 0.5}},
		{[]float64{4, 2, 6}, 5, []float64{4, 3, 4}},
		{[]float64{4, 2, 6}, 0, []float64{4, 2, 6}},
		{nil, 3, []float64{}},
	} {
		if got := metrics.TrailingMean(c.v, c.window); !slices.Equal(got, c.want) {
			t.Errorf("TrailingMean(%v, %d) = %v, want %v", c.v, c.window, got, c.want)
		}
	}
}

// Where a loss curve leaves its plateau: the first step at which the mean of the
// last 3 batch losses falls below 2.
func ExampleTrailingMean() {
	losses := []float64{2.30, 2.31, 2.29, 2.28, 2.1, 1.9, 1.7, 1.5}
	smooth := metrics.TrailingMean(losses, 3)
	step := slices.IndexFunc(smooth, func(l float64) bool { return l < 2 }) + 1
	fmt.Printf("%.2f, below 2 from step %d\n", smooth, step)
	// Output:
	// [2.30 2.30 2.30 2.29 2.22 2.09 1.90 1.70], below 2 from step 7
}
