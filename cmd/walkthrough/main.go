// Command walkthrough runs the article's walkthrough from a terminal: it loads a
// dataset, builds the article's CNN, trains it with SGD and StepLR, evaluates it with
// every metric the article names, and writes metrics.json, figures and checkpoints
// to -out.
//
//	go run ./cmd/walkthrough                      # the embedded Fashion-MNIST subset
//	go run ./cmd/walkthrough -data fashion-mnist  # the full dataset, as the article
//	go run ./cmd/walkthrough -data path/to/images # root/<class>/<image>, or root/{train,test}/<class>/<image>
//	go run ./cmd/walkthrough -data fashion-mnist -init model.onnx -epochs 0  # evaluate an ONNX model (e.g. PyTorch's)
//
// Every run also writes the trained model as model.onnx (train.Model.ExportONNX).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/gopherdl/gopherdl/lib/atomicfile"
	"github.com/gopherdl/gopherdl/lib/backend"
	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/data/datasets"
	"github.com/gopherdl/gopherdl/lib/data/embedded"
	"github.com/gopherdl/gopherdl/lib/data/fetch"
	"github.com/gopherdl/gopherdl/lib/data/formats"
	"github.com/gopherdl/gopherdl/lib/metrics"
	"github.com/gopherdl/gopherdl/lib/nn"
	"github.com/gopherdl/gopherdl/lib/progress"
	"github.com/gopherdl/gopherdl/lib/train"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "walkthrough:", err)
		os.Exit(1)
	}
}

// Result is what metrics.json holds.
type Result struct {
	Dataset              string          `json:"dataset"`
	Backend              string          `json:"backend"`
	TrainImages          int             `json:"train_images"`
	TestImages           int             `json:"test_images"`
	Parameters           int             `json:"parameters"`
	Config               train.Config    `json:"config"`
	History              []metrics.Epoch `json:"history"`
	Test                 TestResult      `json:"test"`
	TrainImagesPerSecond float64         `json:"train_images_per_second"`
}

// TestResult is the final evaluation on the test set.
type TestResult struct {
	Loss float64 `json:"loss"`
	metricsReport
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("walkthrough", flag.ContinueOnError)
	def := train.DefaultConfig()
	dataFlag := fs.String("data", embedded.Name, "dataset: "+embedded.Name+" (embedded), fashion-mnist, mnist, cifar10, or an image folder")
	epochs := fs.Int("epochs", def.Epochs, "epochs to train (in total, when resuming); 0 only evaluates (the -init model, or the checkpoint in -out)")
	initFlag := fs.String("init", "", "start from the weights of this ONNX file (the article's CNN, e.g. from torch.onnx.export) instead of random ones")
	batch := fs.Int("batch", def.BatchSize, "batch size")
	lr := fs.Float64("lr", def.LR, "learning rate")
	momentum := fs.Float64("momentum", 0, "SGD momentum (the article uses none)")
	wd := fs.Float64("weight-decay", 0, "L2 weight decay")
	stepSize := fs.Int("step-size", def.StepSize, "StepLR: epochs between learning-rate drops")
	gamma := fs.Float64("gamma", def.Gamma, "StepLR: factor of each drop")
	seed := fs.Uint64("seed", def.Seed, "seed of the initial weights, the shuffling and the split")
	limit := fs.Int("limit", 0, "use only the first N training images (0: all)")
	out := fs.String("out", "out/walkthrough", "folder for metrics.json, figures and checkpoints")
	backendFlag := fs.String("backend", "auto", "go, xla:cpu, xla:cuda or auto (XLA when its plugin is installed, else go)")
	fresh := fs.Bool("fresh", false, "start over instead of resuming from the checkpoints in -out")
	augment := fs.Bool("augment", false, "random crops (padding 2) and horizontal flips while training")
	normalize := fs.Bool("normalize", false, "standardise each channel with the training set's mean and std (the article only scales pixels to [0, 1])")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags only; see -h)", fs.Arg(0))
	}
	for _, c := range []struct {
		name string
		ok   bool
	}{{"-epochs must be >= 0", *epochs >= 0}, {"-batch must be > 0", *batch > 0}, {"-lr must be > 0", *lr > 0},
		{"-momentum must be in [0, 1)", *momentum >= 0 && *momentum < 1}, {"-weight-decay must be >= 0", *wd >= 0},
		{"-step-size must be >= 0", *stepSize >= 0}, {"-gamma must be > 0", *gamma > 0}, {"-limit must be >= 0", *limit >= 0}} {
		if !c.ok {
			return errors.New(c.name)
		}
	}

	// Ctrl-C stops training at the next step, keeping the last checkpoint.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() { <-ctx.Done(); stop() }() // a second Ctrl-C ends the program at once
	var trainDS, testDS *data.Dataset
	var err error
	if *dataFlag == embedded.Name || *dataFlag == "" {
		trainDS, testDS, err = embedded.Load()
	} else {
		var rep formats.FolderReport
		trainDS, testDS, rep, err = datasets.Open(ctx, *dataFlag, *seed, fetch.Options{Progress: &progress.Downloads{}})
		if len(rep.Skipped) > 0 || rep.Resized > 0 {
			fmt.Fprintf(os.Stderr, "%s: %s\n", *dataFlag, rep)
		}
	}
	if err != nil {
		return err
	}
	trainDS = trainDS.Head(*limit)

	b, err := backend.New(*backendFlag)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backend: %s\n", b)
	fmt.Fprintf(stdout, "data: %s, %d training and %d test images of %s, %d classes\n",
		*dataFlag, trainDS.Len(), testDS.Len(), trainDS.Shape(), len(trainDS.Classes))

	net := nn.Net(len(trainDS.Classes))
	summary, err := nn.Summarize(net, trainDS.Shape())
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, summary)

	cfg := train.Config{Epochs: *epochs, BatchSize: *batch, LR: *lr, Momentum: *momentum, WeightDecay: *wd,
		StepSize: *stepSize, Gamma: *gamma, Seed: *seed, Normalize: *normalize, Init: *initFlag, Log: stdout,
		CheckpointDir: filepath.Join(*out, "checkpoints")}
	if *augment {
		cfg.Augment = &data.Augmentation{CropPadding: 2, HorizontalFlip: true}
	}
	if *fresh {
		if err := os.RemoveAll(cfg.CheckpointDir); err != nil {
			return err
		}
	}
	model, history, err := trainOrLoad(ctx, net, cfg, b, trainDS, testDS)
	if err != nil {
		return err
	}
	defer model.Close()
	ev, err := model.Evaluate(testDS)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\ntest loss %.4f, accuracy %.2f%%\n%s", ev.Loss, 100*ev.Report.Accuracy, ev.Report)

	res := Result{Dataset: *dataFlag, Backend: b.ID, TrainImages: trainDS.Len(), TestImages: testDS.Len(),
		Parameters: summary.Total, Config: cfg, History: history,
		Test: TestResult{Loss: ev.Loss, metricsReport: metricsReport(ev.Report)}}
	if len(history) > 0 {
		n := 0.0
		for _, e := range history {
			n += e.TrainImagesPerSecond
		}
		res.TrainImagesPerSecond = n / float64(len(history))
	}
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(*out, "metrics.json")
	if err := atomicfile.WriteBytes(path, append(js, '\n')); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", path)
	onnxPath := filepath.Join(*out, "model.onnx")
	if err := model.ExportONNX(onnxPath); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", onnxPath)
	files, err := writeFigures(*out, model, ev, testDS)
	if err != nil {
		return err
	}
	for _, f := range files {
		fmt.Fprintf(stdout, "wrote %s\n", f)
	}
	fmt.Fprintf(stdout, "checkpoints in %s\n", cfg.CheckpointDir)
	return nil
}

// trainOrLoad trains the model (resuming from its checkpoints), or with 0 epochs
// only prepares it for evaluation: the -init file's weights, else the newest
// checkpoint's.
func trainOrLoad(ctx context.Context, net nn.ModelFn, cfg train.Config, b *backend.Backend, trainDS, testDS *data.Dataset) (*train.Model, []metrics.Epoch, error) {
	if cfg.Epochs > 0 {
		model := train.New(net, cfg)
		model.Backend = b
		history, err := model.Fit(ctx, trainDS, testDS)
		return model, history, err
	}
	if cfg.Init != "" {
		model := train.New(net, cfg)
		model.Backend = b
		return model, nil, nil
	}
	if train.LatestCheckpoint(cfg.CheckpointDir) == "" {
		return nil, nil, fmt.Errorf("-epochs 0 evaluates a model: give -init FILE.onnx, or an -out whose checkpoints hold one")
	}
	model, err := train.Load(cfg.CheckpointDir, net)
	if err != nil {
		return nil, nil, err
	}
	model.Backend = b
	return model, model.History, nil
}
