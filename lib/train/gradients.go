package train

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/loss"
	"github.com/gomlx/gomlx/ml/train/optimizer"

	"github.com/gopherdl/gopherdl/lib/data"
)

// Gradients returns the batch's mean cross-entropy loss and the gradient of that
// loss with respect to every trainable variable, computed as Step computes them
// (training mode) but without changing the weights or the optimiser's state:
// PyTorch's loss.backward() without optimizer.step(). Each gradient is named by
// its variable's path, as Variable takes it ("/conv1/conv/weights"), and has that
// variable's shape. The batch's tensors are left as they were, so the same batch
// may then go to Step. On a model that has not run yet, the first call creates
// the variables with their initial values.
func (m *Model) Gradients(b data.Batch) (lossValue float64, grads []Values, err error) {
	err = m.exclusive("gradients", func() error {
		exec, names, err := m.gradientsExec()
		if err != nil {
			return err
		}
		out, err := exec.Call(b.Images, b.Labels)
		if err != nil {
			return err
		}
		defer func() {
			for _, t := range out {
				t.FinalizeAll()
			}
		}()
		if len(out) != len(*names)+1 {
			return fmt.Errorf("%d outputs for %d variables", len(out), len(*names))
		}
		if lossValue, err = scalar(out[0]); err != nil {
			return err
		}
		for i, name := range *names {
			v, err := copyValues(name, out[i+1])
			if err != nil {
				return err
			}
			grads = append(grads, v)
		}
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	return lossValue, grads, nil
}

// gradientsExec returns the graph of the loss and the trainable variables'
// gradients, made on first use, and the variables' paths in the order of its
// outputs (filled when the graph is built for a batch shape).
func (m *Model) gradientsExec() (*model.Exec, *[]string, error) {
	m.execs.mu.Lock()
	defer m.execs.mu.Unlock()
	if m.execs.grads == nil {
		names := new([]string)
		exec, err := model.NewExec(m.Backend.Compute, m.store, func(scope *model.Scope, images, labels *graph.Node) []*graph.Node {
			g := images.Graph()
			m.store.SetTraining(g, true) // as the trainer: variables are inputs, layers train
			l := graph.ReduceAllMean(loss.SparseCategoricalCrossEntropyLogits([]*graph.Node{labels}, []*graph.Node{m.fn(scope, images)}))
			var paths []string
			for v := range scope.IterVariables() {
				if v.Trainable && v.InUseByGraph(g) {
					paths = append(paths, v.Path())
				}
			}
			*names = paths
			return append([]*graph.Node{l}, scope.BuildTrainableVariablesGradientsGraph(l)...)
		})
		if err != nil {
			return nil, nil, err
		}
		m.execs.grads, m.execs.gradNames = exec, names
	}
	return m.execs.grads, m.execs.gradNames, nil
}

// SetVariable sets the value of the model variable v.Name (a path as Variable
// takes it) to v.Data: how a hand-written SGD step writes back w - lr * grad. The
// shape must be the variable's own. The model must have its variables (after it
// first ran: Fit, Evaluate, Predict, Gradients or Load); the optimiser's state is
// left as it is.
func (m *Model) SetVariable(v Values) error {
	path := v.Name
	if !strings.HasPrefix(path, model.ScopeSeparator) {
		path = model.ScopeSeparator + path
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("setting model variable %q: %w", path, ErrClosed)
	}
	mv, err := m.lookup(path)
	if err != nil {
		return fmt.Errorf("setting %w", err)
	}
	want := mv.Shape()
	if !slices.Equal(v.Shape, want.Dimensions) || len(v.Data) != want.Size() {
		return fmt.Errorf("setting model variable %q: got shape %v with %d values, want shape %v (%d values)",
			path, v.Shape, len(v.Data), want.Dimensions, want.Size())
	}
	var t *tensors.Tensor
	switch want.DType {
	case dtypes.Float32:
		t = tensors.FromFlatDataAndDimensions(slices.Clone(v.Data), want.Dimensions...)
	case dtypes.Float64:
		d := make([]float64, len(v.Data))
		for i, x := range v.Data {
			d[i] = float64(x)
		}
		t = tensors.FromFlatDataAndDimensions(d, want.Dimensions...)
	default:
		return fmt.Errorf("setting model variable %q: it holds %s values, want float32 or float64", path, want.DType)
	}
	if err := mv.SetValue(t); err != nil {
		return fmt.Errorf("setting model variable %q: %w", path, err)
	}
	return nil
}

// lookup returns the model variable at path (with its leading "/"), or an error
// that lists the model's variables.
func (m *Model) lookup(path string) (*model.Variable, error) {
	v := m.store.GetVariable(path)
	if v != nil && v.HasValue() {
		return v, nil
	}
	var have []string
	for v := range m.store.IterVariables() {
		if v.Trainable && v.HasValue() && !strings.HasPrefix(v.Scope(), model.ScopeSeparator+optimizer.Scope) {
			have = append(have, fmt.Sprintf("%s %v", v.Path(), v.Shape().Dimensions))
		}
	}
	if len(have) == 0 {
		return nil, fmt.Errorf("model variable %q: the model has no variables yet: they are made when it first runs (Fit, Evaluate, Predict, Gradients or Load)", path)
	}
	return nil, fmt.Errorf("model variable %q: no such variable; the model has %s", path, strings.Join(have, ", "))
}
