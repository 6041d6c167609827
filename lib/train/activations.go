package train

import (
	"fmt"
	"image"
	"slices"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/nn"
)

// Values is a copy of numbers from inside a model: a layer's output for one image
// (Model.Activations) or a variable's value (Model.Variable).
type Values struct {
	// Name is the layer's name ("conv1/relu", as nn.Summary.Names lists them) or the
	// variable's path ("/conv1/conv/weights").
	Name string
	// Shape is [height, width, channels] for a layer's output on images (its batch
	// axis dropped), [features] after a flatten, or a variable's own shape
	// ([3, 3, 1, 32] for conv1's weights: kernel rows, columns, input channels,
	// filters).
	Shape []int
	// Data holds the values row-major (the last axis varies fastest).
	Data []float32
}

// Activations runs the model on one image, prepared as Predict prepares it, and
// returns the outputs of the named layers in the order asked (every layer when no
// name is given): what a PyTorch forward hook on model.conv1 would see. Names are
// those of nn.Summary.Names ("conv1" is the convolution's output before its ReLU,
// "conv1/relu" after it, "conv1/maxpool2x2" after the pool); an unknown name is an
// error that lists the model's layers. The model must know its input (trained,
// evaluated or loaded); an untrained model that has been evaluated once shows its
// random initial weights at work.
func (m *Model) Activations(img image.Image, layers ...string) ([]Values, error) {
	var out []Values
	err := m.shared("activations", func() error {
		d, err := m.imagesDataset([]image.Image{img})
		if err != nil {
			return err
		}
		// Each call builds a graph of its own: it takes its turn with the first calls
		// of the inference graphs (see execs).
		m.execs.first.Lock()
		defer m.execs.first.Unlock()
		var names []string
		exec, err := model.NewExec(m.Backend.Compute, m.store, func(scope *model.Scope, images *graph.Node) []*graph.Node {
			weightsAsParameters(m.store, images.Graph())
			_, outputs := nn.LayerOutputs(scope, images, m.fn)
			nodes := make([]*graph.Node, len(outputs))
			names = make([]string, len(outputs))
			for i, o := range outputs {
				names[i], nodes[i] = o.Name, o.Node
			}
			if len(nodes) == 0 { // a model of plain GoMLX operations: no layer is recorded
				nodes = append(nodes, graph.Const(images.Graph(), float32(0)))
			}
			return nodes
		})
		if err != nil {
			return err
		}
		defer exec.Finalize()
		loader := data.NewLoader(d, 1, false)
		loader.Norm = m.Norm
		for b, err := range loader.Batches() {
			if err != nil {
				return err
			}
			results, err := exec.Call(b.Images)
			b.Images.FinalizeAll()
			b.Labels.FinalizeAll()
			if err != nil {
				return err
			}
			out, err = pickLayers(names, results, layers)
			for _, t := range results {
				t.FinalizeAll()
			}
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// pickLayers copies the asked layers' outputs (all when asked is empty) out of the
// results, one per name.
func pickLayers(names []string, results []*tensors.Tensor, asked []string) ([]Values, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("the model records no layers (it uses none of lib/nn's layer functions)")
	}
	if len(asked) == 0 {
		asked = names
	}
	out := make([]Values, 0, len(asked))
	for _, name := range asked {
		i := slices.Index(names, name)
		if i < 0 {
			return nil, fmt.Errorf("the model has no layer %q; its layers are %s", name, strings.Join(names, ", "))
		}
		v, err := copyValues(name, results[i])
		if err != nil {
			return nil, err
		}
		v.Shape = v.Shape[1:] // one image: the batch axis goes
		out = append(out, v)
	}
	return out, nil
}

// copyValues copies a float tensor into Values.
func copyValues(name string, t *tensors.Tensor) (Values, error) {
	v := Values{Name: name, Shape: slices.Clone(t.Shape().Dimensions)}
	switch t.DType() {
	case dtypes.Float32:
		v.Data = tensors.MustCopyFlatData[float32](t)
	case dtypes.Float64:
		for _, x := range tensors.MustCopyFlatData[float64](t) {
			v.Data = append(v.Data, float32(x))
		}
	default:
		return Values{}, fmt.Errorf("%s holds %s values, want float32 or float64", name, t.DType())
	}
	return v, nil
}

// Variable returns a copy of the model variable at path, as GoMLX names it:
// "/conv1/conv/weights" ([kernel, kernel, input channels, filters]),
// "/conv1/conv/biases", "/fc1/dense/weights" ([inputs, outputs]), ... (the leading
// "/" may be left out). An unknown path is an error that lists the model's
// variables. A model's variables exist once it has run: after Fit, Evaluate, Predict,
// Load or Gradients.
func (m *Model) Variable(path string) (Values, error) {
	if !strings.HasPrefix(path, model.ScopeSeparator) {
		path = model.ScopeSeparator + path
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return Values{}, fmt.Errorf("model variable %q: %w", path, ErrClosed)
	}
	v, err := m.lookup(path)
	if err != nil {
		return Values{}, err
	}
	t, err := v.Value()
	if err != nil {
		return Values{}, fmt.Errorf("model variable %q: %w", path, err)
	}
	return copyValues(path, t)
}
