package train

import (
	"encoding/json"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/gopherdl/gopherdl/internal/onnxpb"
	"github.com/gopherdl/gopherdl/lib/nn"
	"github.com/gopherdl/gopherdl/lib/onnx"
)

// onnxOpset is the ONNX operator set the export uses, the one torch.onnx.export
// writes by default in PyTorch 1.13; onnxIRVersion is ONNX 1.12's file format.
const (
	onnxOpset     = 13
	onnxIRVersion = 8
)

// ExportONNX writes the model to path (atomically) as an ONNX file that ONNX
// Runtime, a browser (onnxruntime-web) or PyTorch tooling can run.
//
// Input "images": float32 [batch, channels, height, width] (NCHW, PyTorch's layout),
// pixels scaled to [0, 1] as torchvision's ToTensor does; the model's Normalize
// standardisation, when it has one, is inside the graph (its first two operators,
// Sub and Div). Output "probabilities": [batch, classes], the softmax of the logits,
// what Predict returns. The class names are in the metadata ("classes", JSON).
// Layers: conv2d, relu, maxpool2x2, flatten, linear and dropout (Net and MLP).
func (m *Model) ExportONNX(path string) error {
	return m.shared("exporting ONNX "+path, func() error {
		if m.Classes == nil {
			return errNotReady
		}
		layers := m.layerCache
		if layers == nil {
			s, err := nn.Summarize(m.fn, m.Shape)
			if err != nil {
				return err
			}
			layers = s.Layers
		}
		g, err := m.onnxGraph(layers)
		if err != nil {
			return err
		}
		classes, _ := json.Marshal(m.Classes)
		om := &onnx.Model{
			IrVersion:     proto.Int64(onnxIRVersion),
			OpsetImport:   []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(onnxOpset)}},
			ProducerName:  proto.String("gopherdl"),
			Graph:         g,
			MetadataProps: []*onnxpb.StringStringEntryProto{{Key: proto.String("classes"), Value: proto.String(string(classes))}},
		}
		return onnx.WriteFile(path, om)
	})
}

// exporter builds an ONNX graph one operator at a time.
type exporter struct {
	g    *onnx.Graph
	last string // the tensor the next operator reads
}

// op appends an operator named name reading e.last and the given weights, and
// makes its output the next input.
func (e *exporter) op(op, name string, weights []*onnx.Tensor, attrs ...*onnx.Attribute) {
	inputs := []string{e.last}
	for _, w := range weights {
		e.g.Initializer = append(e.g.Initializer, w)
		inputs = append(inputs, w.GetName())
	}
	out := name
	e.g.Node = append(e.g.Node, onnx.NewNode(op, name, inputs, []string{out}, attrs...))
	e.last = out
}

// onnxGraph is the model as an ONNX graph: normalisation, then each layer.
func (m *Model) onnxGraph(layers []nn.Layer) (*onnx.Graph, error) {
	s := m.Shape
	e := &exporter{g: &onnx.Graph{Name: proto.String("gopherdl")}, last: "images"}
	e.g.Input = []*onnx.ValueInfo{onnx.FloatValue("images", "batch", s.Channels, s.Height, s.Width)}
	if n := m.Norm; n != nil {
		e.op("Sub", "normalize/sub", []*onnx.Tensor{onnx.FloatTensor("mean", []int{1, s.Channels, 1, 1}, n.Mean)})
		e.op("Div", "normalize/div", []*onnx.Tensor{onnx.FloatTensor("std", []int{1, s.Channels, 1, 1}, n.Std)})
	}
	names := nn.Summary{Layers: layers}.Names()
	prev := []int{1, s.Height, s.Width, s.Channels} // the previous layer's output, NHWC
	var flat []int                                  // [h, w, c] when the last layer flattened a grid
	for i, l := range layers {
		scope, kind := splitLayer(l.Name)
		var err error
		switch kind {
		case "conv2d":
			err = m.exportConv(e, names[i], scope)
		case "relu":
			e.op("Relu", names[i], nil)
		case "maxpool2x2":
			e.op("MaxPool", names[i], nil, onnx.Ints("kernel_shape", 2, 2), onnx.Ints("strides", 2, 2))
		case "flatten":
			e.op("Flatten", names[i], nil, onnx.Int("axis", 1))
			if len(prev) == 4 {
				flat = prev[1:]
			}
		case "linear":
			err = m.exportLinear(e, names[i], scope, flat)
			flat = nil
		case "dropout": // the identity at inference
		default:
			err = fmt.Errorf("ONNX export knows conv2d, relu, maxpool2x2, flatten, linear and dropout layers, not %s", kind)
		}
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", names[i], err)
		}
		prev = l.Output
	}
	e.op("Softmax", "probabilities", nil, onnx.Int("axis", 1))
	e.g.Output = []*onnx.ValueInfo{onnx.FloatValue("probabilities", "batch", len(m.Classes))}
	return e.g, nil
}

// splitLayer splits a summary layer name, "/conv1 conv2d" or "relu", into its scope
// ("/conv1", or "") and kind.
func splitLayer(name string) (scope, kind string) {
	if i := strings.LastIndexByte(name, ' '); i > 0 && strings.HasPrefix(name, "/") {
		return name[:i], name[i+1:]
	}
	return "", name
}

// variable returns a model variable's values and dimensions.
func (m *Model) variable(path string) ([]float32, []int, error) {
	v := m.store.GetVariable(path)
	if v == nil || !v.HasValue() {
		return nil, nil, fmt.Errorf("variable %s: missing (the model has not run yet)", path)
	}
	t, err := v.Value()
	if err != nil {
		return nil, nil, err
	}
	vals, err := copyValues(path, t)
	return vals.Data, vals.Shape, err
}

// exportConv writes a Conv2D layer: weights [k, k, c, f] become ONNX's [f, c, k, k].
func (m *Model) exportConv(e *exporter, name, scope string) error {
	w, wd, err := m.variable(scope + "/conv/weights")
	if err != nil {
		return err
	}
	b, _, err := m.variable(scope + "/conv/biases")
	if err != nil {
		return err
	}
	k, c, f := wd[0], wd[2], wd[3]
	out := make([]float32, len(w))
	for i := range k {
		for j := range k {
			for ci := range c {
				for fi := range f {
					out[((fi*c+ci)*k+i)*k+j] = w[((i*k+j)*c+ci)*f+fi]
				}
			}
		}
	}
	p := int64(k / 2)
	e.op("Conv", name, []*onnx.Tensor{onnx.FloatTensor(name+".weight", []int{f, c, k, k}, out), onnx.FloatTensor(name+".bias", []int{f}, b)},
		onnx.Ints("kernel_shape", int64(k), int64(k)), onnx.Ints("pads", p, p, p, p), onnx.Ints("strides", 1, 1))
	return nil
}

// exportLinear writes a Linear layer as Gemm with transB=1 (weights [out, in], as
// PyTorch stores them). After a flatten of a [h, w, c] grid the inputs are reordered
// from gopherdl's channels-last order to ONNX's channels-first one.
func (m *Model) exportLinear(e *exporter, name, scope string, flat []int) error {
	w, wd, err := m.variable(scope + "/dense/weights")
	if err != nil {
		return err
	}
	b, _, err := m.variable(scope + "/dense/biases")
	if err != nil {
		return err
	}
	in, out := wd[0], wd[1]
	order := inputOrder(in, flat)
	t := make([]float32, len(w))
	for r := range in {
		for o := range out {
			t[o*in+order[r]] = w[r*out+o]
		}
	}
	e.op("Gemm", name, []*onnx.Tensor{onnx.FloatTensor(name+".weight", []int{out, in}, t), onnx.FloatTensor(name+".bias", []int{out}, b)},
		onnx.Int("transB", 1))
	return nil
}

// inputOrder maps each input of a linear layer in gopherdl's order to its index in
// ONNX's: the identity, unless the layer reads a flattened [h, w, c] grid, whose
// channels-last index (y*w + x)*c + ch is ch*h*w + y*w + x channels first.
func inputOrder(in int, flat []int) []int {
	order := make([]int, in)
	for i := range order {
		order[i] = i
	}
	if len(flat) != 3 || flat[0]*flat[1]*flat[2] != in {
		return order
	}
	h, w, c := flat[0], flat[1], flat[2]
	for y := range h {
		for x := range w {
			for ch := range c {
				order[(y*w+x)*c+ch] = (ch*h+y)*w + x
			}
		}
	}
	return order
}
