// Package embedded holds the project's default dataset, compiled into the binary: a
// class-balanced subset of Fashion-MNIST (6,000 training and 1,000 test images,
// 1x28x28, 10 classes), so the walkthrough and the notebooks run with no download.
// It is its own package so that only what imports it links its 3 MB.
//
// Fashion-MNIST is Copyright (c) 2017 Zalando SE, under the MIT licence: see NOTICE
// in this folder. The subset is the first 600 training and the first 100 test images
// of each class; gen.go regenerates it.
package embedded

//go:generate go run gen.go

import (
	_ "embed"
	"fmt"

	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/data/datasets"
	"github.com/gopherdl/gopherdl/lib/data/formats"
)

var (
	//go:embed train-images-idx3-ubyte.gz
	trainImages []byte
	//go:embed train-labels-idx1-ubyte.gz
	trainLabels []byte
	//go:embed t10k-images-idx3-ubyte.gz
	testImages []byte
	//go:embed t10k-labels-idx1-ubyte.gz
	testLabels []byte
)

// Name is the dataset's name in outputs and metrics.
const Name = "fashion-mnist-small"

// Load returns the embedded training and test sets.
func Load() (train, test *data.Dataset, err error) {
	load := func(split string, img, lab []byte) (*data.Dataset, error) {
		d, err := formats.ReadIDXBytes(Name+"/"+split, img, lab, datasets.FashionMNISTClasses())
		if err != nil {
			return nil, fmt.Errorf("embedded dataset: %w", err)
		}
		return d, nil
	}
	if train, err = load("train", trainImages, trainLabels); err != nil {
		return nil, nil, err
	}
	if test, err = load("test", testImages, testLabels); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// MustLoad is Load for notebooks: it panics on error.
func MustLoad() (train, test *data.Dataset) {
	train, test, err := Load()
	if err != nil {
		panic(err)
	}
	return train, test
}
