package train_test

import (
	"fmt"

	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/data/embedded"
	"github.com/gopherdl/gopherdl/lib/nn"
	"github.com/gopherdl/gopherdl/lib/train"
)

// One SGD step by hand, as PyTorch's loss.backward() then w -= lr * w.grad: the
// gradients of one batch, each weight moved against its gradient, and the loss of
// the same batch again, now lower.
func ExampleModel_Gradients() {
	trainDS, _ := embedded.MustLoad()
	m := train.New(nn.Net(10), train.DefaultConfig())
	for b, err := range data.NewLoader(trainDS.Head(64), 64, false).Batches() {
		if err != nil {
			fmt.Println(err)
			return
		}
		before, grads, err := m.Gradients(b)
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, g := range grads {
			w, err := m.Variable(g.Name)
			if err != nil {
				fmt.Println(err)
				return
			}
			for i := range w.Data {
				w.Data[i] -= 0.1 * g.Data[i]
			}
			if err := m.SetVariable(w); err != nil {
				fmt.Println(err)
				return
			}
		}
		after, _, err := m.Gradients(b)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(len(grads), "gradients; loss falls:", after < before)
	}
	// Output: 8 gradients; loss falls: true
}
