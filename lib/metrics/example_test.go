package metrics_test

import (
	"fmt"

	"github.com/gopherdl/gopherdl/lib/metrics"
)

func ExampleCompute() {
	labels := []int32{0, 0, 0, 1, 1, 2, 2, 2}
	preds := []int32{0, 0, 1, 1, 2, 2, 2, 0}
	r, _ := metrics.Compute(labels, preds, []string{"cat", "dog", "bird"})
	fmt.Print(r)
	fmt.Println("confusion:", r.Confusion)
	// Output:
	// class          precision    recall        f1  support
	// cat                0.667     0.667     0.667        3
	// dog                0.500     0.500     0.500        2
	// bird               0.667     0.667     0.667        3
	// macro avg          0.611     0.611     0.611        8
	// accuracy                               0.625        8
	// confusion: [[2 1 0] [0 1 1] [1 0 2]]
}
