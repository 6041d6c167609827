//go:build ignore

// gen writes the embedded Fashion-MNIST subset from the full dataset: the first 600
// training images of each class and the first 100 test images of each class.
//
//	go generate ./lib/data/embedded   (reads /usr/share/datasets/fashion-mnist)
package main

import (
	"log"

	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/data/datasets"
	"github.com/gopherdl/gopherdl/lib/data/formats"
)

func main() {
	train, test, err := datasets.LoadFashionMNIST("")
	if err != nil {
		log.Fatal(err)
	}
	write := func(d *data.Dataset, perClass int, prefix string) {
		counts := make([]int, len(d.Classes))
		var idx []int
		for i, l := range d.Labels {
			if counts[l] < perClass {
				counts[l]++
				idx = append(idx, i)
			}
		}
		sub := d.Subset(d.Name, idx)
		if err := formats.WriteIDX(sub, prefix+"-images-idx3-ubyte.gz", prefix+"-labels-idx1-ubyte.gz"); err != nil {
			log.Fatal(err)
		}
	}
	write(train, 600, "train")
	write(test, 100, "t10k")
}
