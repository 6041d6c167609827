package plot_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gopherdl/gopherdl/lib/metrics"
	"github.com/gopherdl/gopherdl/lib/plot"
)

// Draw a confusion matrix and save it as PNG; in a GoNB notebook,
// plot.Must(plot.ConfusionMatrix(r)).MustDisplay() shows it inline instead.
func ExampleConfusionMatrix() {
	r, _ := metrics.Compute([]int32{0, 0, 1, 1, 2}, []int32{0, 1, 1, 1, 2}, []string{"cat", "dog", "bird"})
	dir, _ := os.MkdirTemp("", "gopherdl-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "confusion.png")
	if err := plot.Must(plot.ConfusionMatrix(r)).Save(path); err != nil {
		fmt.Println(err)
		return
	}
	st, _ := os.Stat(path)
	fmt.Println("saved a PNG:", st.Size() > 1000)
	// Output:
	// saved a PNG: true
}
