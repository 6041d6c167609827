// Package onnx reads and writes ONNX model files: the protobuf messages of ONNX's
// own schema (onnx.proto, generated into internal/onnxpb), encoded and decoded by
// google.golang.org/protobuf, plus the few builders and readers that exporting and
// importing a model need (float tensors, nodes, attributes).
//
// train.Model.ExportONNX writes the article's CNN with it, and train.Config.Init
// reads one back (from gopherdl or torch.onnx.export).
package onnx

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"

	"google.golang.org/protobuf/proto"

	"github.com/gopherdl/gopherdl/internal/onnxpb"
	"github.com/gopherdl/gopherdl/lib/atomicfile"
)

// Model is a decoded ONNX file (ONNX's ModelProto).
type Model = onnxpb.ModelProto

// Graph is a model's graph (GraphProto): operators, weights, inputs and outputs.
type Graph = onnxpb.GraphProto

// Tensor is an ONNX tensor (TensorProto): a model's weights are initialisers of
// this type.
type Tensor = onnxpb.TensorProto

// Node is one operator of an ONNX graph (NodeProto).
type Node = onnxpb.NodeProto

// Attribute is a named setting of a node (AttributeProto).
type Attribute = onnxpb.AttributeProto

// maxFileSize bounds what ReadFile accepts: protobuf's own limit is 2 GiB.
const maxFileSize = 2 << 30

// Decode parses an ONNX file's bytes and checks what every graph needs: a graph with
// at least one node, one input and one output, each node with an operator. name
// (the file's path) heads the errors.
func Decode(b []byte, name string) (*Model, error) {
	m := &Model{}
	if err := proto.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("%s: not an ONNX model (protobuf ModelProto): %w", name, err)
	}
	g := m.GetGraph()
	switch {
	case g == nil:
		return nil, fmt.Errorf("%s: field graph: missing; want the model's graph", name)
	case len(g.GetNode()) == 0:
		return nil, fmt.Errorf("%s: field graph.node: empty; want at least one operator", name)
	case len(g.GetInput()) == 0 || len(g.GetOutput()) == 0:
		return nil, fmt.Errorf("%s: fields graph.input and graph.output: %d inputs, %d outputs; want at least one of each",
			name, len(g.GetInput()), len(g.GetOutput()))
	}
	for i, n := range g.GetNode() {
		if n.GetOpType() == "" {
			return nil, fmt.Errorf("%s: field graph.node[%d].op_type: empty; want an operator name", name, i)
		}
	}
	return m, nil
}

// ReadFile reads and decodes the ONNX file at path.
func ReadFile(path string) (*Model, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading ONNX model: %w", err)
	}
	if st.Size() > maxFileSize {
		return nil, fmt.Errorf("%s: %d bytes: more than protobuf's 2 GiB limit", path, st.Size())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading ONNX model: %w", err)
	}
	return Decode(b, path)
}

// WriteFile encodes m and writes it to path atomically: a reader sees the old file
// or the whole new one.
func WriteFile(path string, m *Model) error {
	b, err := proto.Marshal(m)
	if err != nil {
		return fmt.Errorf("encoding ONNX model %s: %w", path, err)
	}
	if err := atomicfile.WriteBytes(path, b); err != nil {
		return fmt.Errorf("writing ONNX model: %w", err)
	}
	return nil
}

// FloatTensor returns a float32 tensor named name of the given dimensions, its
// values stored as raw little-endian bytes (as torch.onnx.export stores them).
func FloatTensor(name string, dims []int, values []float32) *Tensor {
	raw := make([]byte, 4*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	d := make([]int64, len(dims))
	for i, v := range dims {
		d[i] = int64(v)
	}
	return &Tensor{Name: proto.String(name), Dims: d, DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), RawData: raw}
}

// Floats returns a float32 tensor's values and dimensions, stored either as raw
// bytes or as float_data. Other types, external data, and a value count that does
// not match the dimensions are errors naming the tensor.
func Floats(t *Tensor) (values []float32, dims []int, err error) {
	if t.GetDataType() != int32(onnxpb.TensorProto_FLOAT) {
		return nil, nil, fmt.Errorf("tensor %q: data_type %s; want FLOAT",
			t.GetName(), onnxpb.TensorProto_DataType(t.GetDataType()))
	}
	if len(t.GetExternalData()) > 0 || t.GetDataLocation() == onnxpb.TensorProto_EXTERNAL {
		return nil, nil, fmt.Errorf("tensor %q: its values are in an external file; want them inside the model", t.GetName())
	}
	n := 1
	for _, d := range t.GetDims() {
		if d < 0 || d > math.MaxInt32 {
			return nil, nil, fmt.Errorf("tensor %q: dims %v: want sizes in [0, 2^31)", t.GetName(), t.GetDims())
		}
		dims = append(dims, int(d))
		n *= int(d)
		if n > maxFileSize {
			return nil, nil, fmt.Errorf("tensor %q: dims %v: too many values", t.GetName(), t.GetDims())
		}
	}
	switch raw := t.GetRawData(); {
	case len(raw) > 0:
		if len(raw) != 4*n {
			return nil, nil, fmt.Errorf("tensor %q: raw_data has %d bytes; dims %v want %d", t.GetName(), len(raw), dims, 4*n)
		}
		values = make([]float32, n)
		for i := range values {
			values[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	default:
		values = t.GetFloatData()
		if len(values) != n {
			return nil, nil, fmt.Errorf("tensor %q: float_data has %d values; dims %v want %d", t.GetName(), len(values), dims, n)
		}
	}
	return values, dims, nil
}

// NewNode returns an operator of type op reading inputs and writing outputs.
func NewNode(op, name string, inputs, outputs []string, attrs ...*Attribute) *Node {
	return &Node{OpType: proto.String(op), Name: proto.String(name), Input: inputs, Output: outputs, Attribute: attrs}
}

// Ints returns an attribute holding a list of integers (kernel_shape, pads, ...).
func Ints(name string, v ...int64) *Attribute {
	return &Attribute{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
}

// Int returns an attribute holding one integer (axis, transB, ...).
func Int(name string, v int64) *Attribute {
	return &Attribute{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

// AttrInts returns the integers of n's attribute name (one for an INT attribute),
// and whether n has it.
func AttrInts(n *Node, name string) ([]int64, bool) {
	for _, a := range n.GetAttribute() {
		if a.GetName() != name {
			continue
		}
		if a.GetType() == onnxpb.AttributeProto_INT {
			return []int64{a.GetI()}, true
		}
		return a.GetInts(), true
	}
	return nil, false
}

// AttrFloat returns the value of n's FLOAT attribute name, or def when n has none.
func AttrFloat(n *Node, name string, def float32) float32 {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			return a.GetF()
		}
	}
	return def
}

// ValueInfo is the name, type and shape of a graph's input or output (ValueInfoProto).
type ValueInfo = onnxpb.ValueInfoProto

// FloatValue describes a float32 input or output of shape [batch, dims...], the batch
// axis symbolic (named batch), so one file runs any batch size.
func FloatValue(name, batch string, dims ...int) *ValueInfo {
	shape := &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{
		{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: batch}},
	}}
	for _, d := range dims {
		shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{
			Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
	}
	return &ValueInfo{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), Shape: shape}}}}
}

// Dims returns the dimensions of a graph input or output, -1 for a symbolic one.
func Dims(v *ValueInfo) []int {
	var dims []int
	for _, d := range v.GetType().GetTensorType().GetShape().GetDim() {
		if _, ok := d.GetValue().(*onnxpb.TensorShapeProto_Dimension_DimValue); ok {
			dims = append(dims, int(d.GetDimValue()))
		} else {
			dims = append(dims, -1)
		}
	}
	return dims
}
