package results_test

import (
	"testing"

	"github.com/gopherdl/gopherdl/notebooks/results"
)

// The committed file decodes, and holds what notebook 3 quotes: ten epochs of
// gopherdl, and ten of PyTorch once its side has run.
func TestLoadParity(t *testing.T) {
	p, err := results.LoadParity()
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Gopherdl) != 10 || (len(p.PyTorch) != 0 && len(p.PyTorch) != 10) || p.Command == "" || p.PyTorchVersion == "" {
		t.Errorf("parity.json: %d epochs of gopherdl, %d of PyTorch, command %q, PyTorch %q: want 10 epochs (PyTorch: 10 or none yet), the command and the version",
			len(p.Gopherdl), len(p.PyTorch), p.Command, p.PyTorchVersion)
	}
}
