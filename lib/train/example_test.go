package train_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gopherdl/gopherdl/lib/data/embedded"
	"github.com/gopherdl/gopherdl/lib/nn"
	"github.com/gopherdl/gopherdl/lib/train"
)

// Train the article's CNN with the article's SGD and StepLR, then evaluate it.
func ExampleModel_Fit() {
	trainDS, testDS := embedded.MustLoad()

	cfg := train.DefaultConfig() // SGD lr 0.01, StepLR(7, 0.1), batch 64, seed 1
	cfg.Epochs = 2
	cfg.Momentum = 0.9
	cfg.Quiet = true
	m := train.New(nn.Net(10), cfg) // on the process's default backend
	history, err := m.Fit(context.Background(), trainDS.Head(1280), testDS)
	if err != nil {
		fmt.Println(err)
		return
	}
	ev, err := m.Evaluate(testDS)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("epochs:", len(history))
	fmt.Println("loss fell:", history[1].TrainLoss < history[0].TrainLoss)
	fmt.Println("better than chance:", ev.Report.Accuracy > 0.3)
	fmt.Println("confusion matrix rows:", len(ev.Report.Confusion))
	// Output:
	// epochs: 2
	// loss fell: true
	// better than chance: true
	// confusion matrix rows: 10
}

// Predict the class of one image with a trained model: the three most probable
// classes, most probable first, as fast.ai's learn.predict shows them.
func ExampleModel_Predict() {
	trainDS, testDS := embedded.MustLoad()
	cfg := train.DefaultConfig()
	cfg.Epochs, cfg.Momentum, cfg.Quiet = 2, 0.9, true
	m := train.New(nn.Net(10), cfg)
	if _, err := m.Fit(context.Background(), trainDS.Head(1280), testDS.Head(200)); err != nil {
		fmt.Println(err)
		return
	}
	top3, err := m.Predict(testDS.ToImage(0), 3) // any image.Image; PredictFile reads a file
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("answers:", len(top3))
	fmt.Println("sorted:", top3[0].Probability >= top3[1].Probability && top3[1].Probability >= top3[2].Probability)
	// Output:
	// answers: 3
	// sorted: true
}

// Explain a prediction: the three most probable classes and the saliency map of the
// first, from one forward pass (what a page that explains a prediction shows).
func ExampleModel_Explain() {
	trainDS, testDS := embedded.MustLoad()
	cfg := train.DefaultConfig()
	cfg.Epochs, cfg.Momentum, cfg.Quiet = 1, 0.9, true
	m := train.New(nn.Net(10), cfg)
	defer m.Close() // the compiled graphs and weights, released now
	if _, err := m.Fit(context.Background(), trainDS.Head(640), testDS.Head(100)); err != nil {
		fmt.Println(err)
		return
	}
	preds, saliency, err := m.Explain(testDS.ToImage(0), 3)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("answers:", len(preds))
	fmt.Println("map pixels:", len(saliency))
	// Output:
	// answers: 3
	// map pixels: 784
}

// The newest checkpoint of a folder is its highest epoch; other folders beside the
// checkpoints are not checkpoints.
func ExampleLatestCheckpoint() {
	dir, err := os.MkdirTemp("", "checkpoints")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	for _, name := range []string{"epoch-9999", "epoch-10000", "epoch-10000.bak"} {
		os.Mkdir(filepath.Join(dir, name), 0o755)
	}
	fmt.Println(filepath.Base(train.LatestCheckpoint(dir)))
	// Output: epoch-10000
}
