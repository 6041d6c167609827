package scrape_test

import (
	"fmt"
	"math"

	"github.com/gopherdl/gopherdl/lib/serve/scrape"
)

// Estimate a latency percentile from a histogram's buckets, as Prometheus's
// histogram_quantile does.
func ExampleHistogram_Quantile() {
	h := scrape.Histogram{Count: 40, Buckets: []scrape.Bucket{
		{UpperBound: 0.1, Count: 10}, // 10 requests took 100 ms or less
		{UpperBound: 0.2, Count: 30}, // 30 took 200 ms or less
		{UpperBound: math.Inf(1), Count: 40},
	}}
	fmt.Printf("p50 %.0f ms, p90 %.0f ms\n", 1000*h.Quantile(0.5), 1000*h.Quantile(0.9))
	// Output: p50 150 ms, p90 200 ms
}
