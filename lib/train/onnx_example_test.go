package train_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gopherdl/gopherdl/lib/data/embedded"
	"github.com/gopherdl/gopherdl/lib/nn"
	"github.com/gopherdl/gopherdl/lib/onnx"
	"github.com/gopherdl/gopherdl/lib/train"
)

// Export a trained model as ONNX, list its operators, and start a new model from the
// file (Config.Init): both give the same test accuracy.
func ExampleModel_ExportONNX() {
	dir, err := os.MkdirTemp("", "onnx-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	trainDS, testDS := embedded.MustLoad()
	cfg := train.DefaultConfig()
	cfg.Epochs, cfg.Momentum, cfg.Quiet = 1, 0.9, true
	m := train.New(nn.Net(10), cfg)
	if _, err := m.Fit(context.Background(), trainDS.Head(640), testDS.Head(100)); err != nil {
		fmt.Println(err)
		return
	}
	path := filepath.Join(dir, "model.onnx")
	if err := m.ExportONNX(path); err != nil {
		fmt.Println(err)
		return
	}
	file, err := onnx.ReadFile(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	var ops []string
	for _, n := range file.GetGraph().GetNode() {
		ops = append(ops, n.GetOpType())
	}
	fmt.Println(strings.Join(ops, " "))

	cfg.Init = path // a file from torch.onnx.export of the article's Net works too
	back := train.New(nn.Net(10), cfg)
	a, errA := m.Evaluate(testDS)
	b, errB := back.Evaluate(testDS)
	if errA != nil || errB != nil {
		fmt.Println(errA, errB)
		return
	}
	fmt.Println("same accuracy:", a.Report.Accuracy == b.Report.Accuracy)
	// Output:
	// Conv Relu MaxPool Conv Relu MaxPool Flatten Gemm Relu Gemm Softmax
	// same accuracy: true
}
