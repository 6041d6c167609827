// Package results holds the measurements that the notebooks quote but that take too
// long to run in them, each written by a documented command and committed beside
// this file:
//
//   - parity.json: the article's walkthrough on the full Fashion-MNIST, by gopherdl
//     and by PyTorch on the same machine (/usr/bin/python3 notebooks/results/parity.py).
package results

import (
	_ "embed"
	"encoding/json"
	"fmt"
)

//go:embed parity.json
var parityJSON []byte

// Parity is the article's walkthrough (batch 64, SGD lr 0.01, StepLR 7/0.1, 10
// epochs) on the full Fashion-MNIST, run by gopherdl (cmd/walkthrough) and by
// PyTorch: the test accuracy after each epoch, as the article prints it. PyTorch is
// empty until its side of the command has finished (the file is written after
// gopherdl's side, then again after PyTorch's).
type Parity struct {
	What           string    `json:"what"`
	Command        string    `json:"command"` // the command that wrote the file
	Gopherdl       []float64 `json:"gopherdl"`
	PyTorch        []float64 `json:"pytorch"`
	PyTorchVersion string    `json:"pytorch_version"`
	Threads        int       `json:"threads"` // PyTorch's threads
	Date           string    `json:"date"`
	Seconds        int       `json:"seconds"` // the command's run time
}

// LoadParity returns parity.json's measurements, checked: some epochs of gopherdl,
// as many of PyTorch or none yet, each accuracy in [0, 1].
func LoadParity() (Parity, error) {
	var p Parity
	if err := json.Unmarshal(parityJSON, &p); err != nil {
		return p, fmt.Errorf("notebooks/results/parity.json: %w", err)
	}
	if len(p.Gopherdl) == 0 || (len(p.PyTorch) != 0 && len(p.PyTorch) != len(p.Gopherdl)) {
		return p, fmt.Errorf("notebooks/results/parity.json: %d epochs of gopherdl, %d of PyTorch: want at least 1 of gopherdl, and as many of PyTorch or none", len(p.Gopherdl), len(p.PyTorch))
	}
	for i, a := range append(append([]float64(nil), p.Gopherdl...), p.PyTorch...) {
		if a < 0 || a > 1 {
			return p, fmt.Errorf("notebooks/results/parity.json: accuracy %d: %g: want a fraction in [0, 1]", i+1, a)
		}
	}
	return p, nil
}
