package train

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/nn"
	"github.com/gopherdl/gopherdl/lib/onnx"
)

// onnxLayer is one layer found in an ONNX graph: its kind as nn's summary names
// layers (conv2d, relu, ...), or the operator's own name for any other.
type onnxLayer struct {
	kind string
	node *onnx.Node
}

// auxiliaryOps compute shapes or pass values through: they are not layers.
var auxiliaryOps = []string{"Constant", "Shape", "Gather", "Unsqueeze", "Concat", "Identity", "Dropout", "Cast"}

// onnxLayers reads the layers of an ONNX graph in order: an optional normalisation
// (Sub of a mean, Div by a std, before anything else), the layers, and an optional
// final Softmax or LogSoftmax (left out: the model computes logits).
func onnxLayers(om *onnx.Model, inits map[string]*onnx.Tensor, channels int) (layers []onnxLayer, norm *data.Normalization, err error) {
	nodes := om.GetGraph().GetNode()
	var mean, std []float32
	for i, n := range nodes {
		op := n.GetOpType()
		if (op == "Sub" || op == "Div") && len(layers) == 0 && len(n.GetInput()) == 2 {
			if t := inits[n.GetInput()[1]]; t != nil {
				v, _, err := onnx.Floats(t)
				if err != nil || len(v) != channels {
					return nil, nil, fmt.Errorf("normalisation node %q: want %d float values, one per channel", n.GetName(), channels)
				}
				if op == "Sub" {
					mean = v
				} else {
					std = v
				}
				continue
			}
		}
		kind := map[string]string{"Conv": "conv2d", "Relu": "relu", "MaxPool": "maxpool2x2",
			"Flatten": "flatten", "Reshape": "flatten", "Gemm": "linear"}[op]
		switch {
		case slices.Contains(auxiliaryOps, op):
			continue
		case (op == "Softmax" || op == "LogSoftmax") && i == len(nodes)-1:
			continue
		case kind == "":
			kind = op
		}
		layers = append(layers, onnxLayer{kind: kind, node: n})
	}
	if (mean == nil) != (std == nil) {
		return nil, nil, fmt.Errorf("a normalisation needs both a Sub (mean) and a Div (std) of constants")
	}
	if mean != nil {
		norm = &data.Normalization{Mean: mean, Std: std}
	}
	return layers, norm, nil
}

// importONNX sets the model's weights (and normalisation) from the ONNX file
// Config.Init. The model must know its input shape and classes; its layers must be
// those of the file, in order, or the error names the first that differs.
func (m *Model) importONNX() error {
	path := m.Config.Init
	om, err := onnx.ReadFile(path)
	if err != nil {
		return err
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("ONNX model %s: %s", path, fmt.Sprintf(format, args...))
	}
	s := m.Shape
	in := om.GetGraph().GetInput()[0]
	if d := onnx.Dims(in); len(d) != 4 || d[1] != s.Channels || d[2] != s.Height || d[3] != s.Width {
		return fail("input %q is %v; the model takes [batch, %d, %d, %d] (NCHW)", in.GetName(), d, s.Channels, s.Height, s.Width)
	}
	inits := map[string]*onnx.Tensor{}
	for _, t := range om.GetGraph().GetInitializer() {
		inits[t.GetName()] = t
	}
	got, norm, err := onnxLayers(om, inits, s.Channels)
	if err != nil {
		return fail("%v", err)
	}
	want, err := m.layers()
	if err != nil {
		return err
	}
	want = slices.DeleteFunc(slices.Clone(want), func(l nn.Layer) bool { return strings.HasSuffix(l.Name, " dropout") })
	names := nn.Summary{Layers: want}.Names()
	values := map[string]*tensors.Tensor{}
	prev := []int{1, s.Height, s.Width, s.Channels}
	for i := range max(len(want), len(got)) {
		switch {
		case i >= len(got):
			return fail("it ends after %d layers; the model's layer %d is %s (%s)", len(got), i+1, names[i], want[i].Name)
		case i >= len(want):
			return fail("layer %d, %s (node %q), is one more than the model's %d layers", i+1, got[i].node.GetOpType(), got[i].node.GetName(), len(want))
		}
		scope, kind := splitLayer(want[i].Name)
		if got[i].kind != kind {
			return fail("layer %d differs: the model's %s is %s; the file has %s (node %q)", i+1, names[i], kind, got[i].node.GetOpType(), got[i].node.GetName())
		}
		var err error
		switch kind {
		case "conv2d":
			err = importConv(got[i].node, inits, scope, want[i].Output[3], prev[3], values)
		case "maxpool2x2":
			err = checkPool(got[i].node)
		case "linear":
			var flat []int // the grid a flatten just before made flat
			if p := prevOf(want, i-1, s); i > 0 && want[i-1].Name == "flatten" && len(p) == 4 {
				flat = p[1:]
			}
			err = importLinear(got[i].node, inits, scope, prev[len(prev)-1], want[i].Output[1], flat, values)
		}
		if err != nil {
			return fail("layer %d, the model's %s (node %q): %v", i+1, names[i], got[i].node.GetName(), err)
		}
		prev = want[i].Output
	}
	for path, t := range values {
		if v := m.store.GetVariable(path); v != nil {
			err = v.SetValue(t)
		} else {
			_, err = m.store.CreateVariable(path, t)
		}
		if err != nil {
			return fail("setting %s: %v", path, err)
		}
	}
	m.Norm = norm
	m.Config.Normalize = norm != nil
	return nil
}

// prevOf is the input of layer i of ls: the output of the one before, or the image.
func prevOf(ls []nn.Layer, i int, s data.Shape) []int {
	if i == 0 {
		return []int{1, s.Height, s.Width, s.Channels}
	}
	return ls[i-1].Output
}

// weightsOf returns a node's weights and biases (its second and third inputs).
func weightsOf(n *onnx.Node, inits map[string]*onnx.Tensor) (w []float32, wd []int, b []float32, bd []int, err error) {
	if len(n.GetInput()) != 3 || inits[n.GetInput()[1]] == nil || inits[n.GetInput()[2]] == nil {
		return nil, nil, nil, nil, fmt.Errorf("want inputs x, weights, bias with constant weights and bias (initialisers), got %v", n.GetInput())
	}
	if w, wd, err = onnx.Floats(inits[n.GetInput()[1]]); err != nil {
		return
	}
	b, bd, err = onnx.Floats(inits[n.GetInput()[2]])
	return
}

// importConv converts an ONNX Conv ([f, c, k, k] weights) into Conv2D's variables
// ([k, k, c, f]), checking the settings Conv2D has: stride 1, same padding.
func importConv(n *onnx.Node, inits map[string]*onnx.Tensor, scope string, f, c int, values map[string]*tensors.Tensor) error {
	w, wd, b, bd, err := weightsOf(n, inits)
	if err != nil {
		return err
	}
	if len(wd) != 4 || wd[0] != f || wd[1] != c || wd[2] != wd[3] || wd[2]%2 != 1 || !slices.Equal(bd, []int{f}) {
		return fmt.Errorf("weights %v and bias %v; the model's layer takes [%d, %d, k, k] (odd k) and [%d]", wd, bd, f, c, f)
	}
	k := wd[2]
	p := int64(k / 2)
	for _, a := range []struct {
		name string
		want []int64
	}{{"strides", []int64{1, 1}}, {"pads", []int64{p, p, p, p}}, {"dilations", []int64{1, 1}}, {"group", []int64{1}}} {
		if v, ok := onnx.AttrInts(n, a.name); ok && !slices.Equal(v, a.want) {
			return fmt.Errorf("%s %v; the model's layer has %v", a.name, v, a.want)
		}
	}
	out := make([]float32, len(w))
	for fi := range f {
		for ci := range c {
			for i := range k {
				for j := range k {
					out[((i*k+j)*c+ci)*f+fi] = w[((fi*c+ci)*k+i)*k+j]
				}
			}
		}
	}
	values[scope+"/conv/weights"] = tensors.FromFlatDataAndDimensions(out, k, k, c, f)
	values[scope+"/conv/biases"] = tensors.FromFlatDataAndDimensions(b, f)
	return nil
}

// checkPool refuses a max-pool other than 2x2 with stride 2 and no padding.
func checkPool(n *onnx.Node) error {
	for _, a := range []struct {
		name string
		want []int64
	}{{"kernel_shape", []int64{2, 2}}, {"strides", []int64{2, 2}}, {"pads", []int64{0, 0, 0, 0}}, {"ceil_mode", []int64{0}}} {
		v, ok := onnx.AttrInts(n, a.name)
		if (ok || a.name == "kernel_shape" || a.name == "strides") && !slices.Equal(v, a.want) {
			return fmt.Errorf("%s %v; the model's layer is a 2x2 max-pool of stride 2 (%s %v)", a.name, v, a.name, a.want)
		}
	}
	return nil
}

// importLinear converts an ONNX Gemm (weights [out, in] with transB=1, as PyTorch
// writes them, or [in, out]) into Linear's variables ([in, out]), reordering the
// inputs of a flattened [h, w, c] grid from channels first to channels last.
func importLinear(n *onnx.Node, inits map[string]*onnx.Tensor, scope string, in, out int, flat []int, values map[string]*tensors.Tensor) error {
	w, wd, b, bd, err := weightsOf(n, inits)
	if err != nil {
		return err
	}
	transA, _ := onnx.AttrInts(n, "transA")
	transB, _ := onnx.AttrInts(n, "transB")
	if slices.Equal(transA, []int64{1}) || onnx.AttrFloat(n, "alpha", 1) != 1 || onnx.AttrFloat(n, "beta", 1) != 1 {
		return fmt.Errorf("transA %v, alpha %g, beta %g; want 0, 1, 1", transA, onnx.AttrFloat(n, "alpha", 1), onnx.AttrFloat(n, "beta", 1))
	}
	tb := slices.Equal(transB, []int64{1})
	wantW := []int{in, out}
	if tb {
		wantW = []int{out, in}
	}
	if !slices.Equal(wd, wantW) || !slices.Equal(bd, []int{out}) {
		return fmt.Errorf("weights %v and bias %v; the model's layer takes %v and [%d]", wd, bd, wantW, out)
	}
	order := inputOrder(in, flat)
	res := make([]float32, len(w))
	for r := range in {
		for o := range out {
			if tb {
				res[r*out+o] = w[o*in+order[r]]
			} else {
				res[r*out+o] = w[order[r]*out+o]
			}
		}
	}
	values[scope+"/dense/weights"] = tensors.FromFlatDataAndDimensions(res, in, out)
	values[scope+"/dense/biases"] = tensors.FromFlatDataAndDimensions(b, out)
	return nil
}

// initOnce applies Config.Init once the model knows its data, holding the model for
// itself while it does.
func (m *Model) initOnce() error {
	m.mu.RLock()
	pending := !m.initDone && m.Config.Init != "" && m.Classes != nil && !m.closed
	m.mu.RUnlock()
	if !pending {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.applyInit()
}

// applyInit reads Config.Init into a model that has neither trained nor loaded a
// checkpoint; the model is held alone.
func (m *Model) applyInit() error {
	if m.initDone || m.Config.Init == "" || m.Classes == nil {
		return nil
	}
	if len(m.History) > 0 || m.loadedFrom != "" {
		m.initDone = true // the checkpoint's weights come after the initial ones
		return nil
	}
	if err := m.importONNX(); err != nil {
		return err
	}
	m.initDone = true
	return nil
}
