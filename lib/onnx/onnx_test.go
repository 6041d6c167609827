package onnx

import (
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
)

// tiny is a one-operator model: probabilities = Softmax(images).
func tiny() *Model {
	return &Model{
		IrVersion: proto.Int64(8),
		Graph: &Graph{
			Name:        proto.String("tiny"),
			Node:        []*Node{NewNode("Softmax", "sm", []string{"images"}, []string{"probabilities"}, Int("axis", 1))},
			Input:       []*ValueInfo{FloatValue("images", "batch", 3)},
			Output:      []*ValueInfo{FloatValue("probabilities", "batch", 3)},
			Initializer: []*Tensor{FloatTensor("w", []int{2, 2}, []float32{1, -2, 3.5, 0})},
		},
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tiny.onnx")
	if err := WriteFile(path, tiny()); err != nil {
		t.Fatal(err)
	}
	m, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v, dims, err := Floats(m.GetGraph().GetInitializer()[0])
	if err != nil || !slices.Equal(v, []float32{1, -2, 3.5, 0}) || !slices.Equal(dims, []int{2, 2}) {
		t.Fatalf("initialiser: %v %v %v", v, dims, err)
	}
	if d := Dims(m.GetGraph().GetInput()[0]); !slices.Equal(d, []int{-1, 3}) {
		t.Errorf("input dims %v, want [-1 3]", d)
	}
	if a, ok := AttrInts(m.GetGraph().GetNode()[0], "axis"); !ok || !slices.Equal(a, []int64{1}) {
		t.Errorf("axis %v %v", a, ok)
	}
}

func TestBadFilesNameTheField(t *testing.T) {
	noGraph, _ := proto.Marshal(&Model{IrVersion: proto.Int64(8)})
	m := tiny()
	m.Graph.Node[0].OpType = proto.String("")
	noOp, _ := proto.Marshal(m)
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"garbage", []byte("not a model \xff\xff"), "not an ONNX model"},
		{"no graph", noGraph, "field graph: missing"},
		{"no op", noOp, "graph.node[0].op_type"},
	} {
		_, err := Decode(c.b, "x.onnx")
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "x.onnx: ") {
			t.Errorf("%s: got %v, want an error of x.onnx with %q", c.name, err, c.want)
		}
	}
	bad := FloatTensor("w", []int{3}, []float32{1, 2})
	if _, _, err := Floats(bad); err == nil || !strings.Contains(err.Error(), `tensor "w"`) {
		t.Errorf("3 dims, 2 values: got %v", err)
	}
	if _, err := ReadFile(filepath.Join(t.TempDir(), "missing.onnx")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: got %v", err)
	}
}

// FuzzDecode feeds arbitrary bytes to Decode and the readers of what it accepts:
// errors, never panics.
func FuzzDecode(f *testing.F) {
	b, _ := proto.Marshal(tiny())
	f.Add(b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b, "fuzz.onnx")
		if err != nil {
			return
		}
		for _, in := range m.GetGraph().GetInput() {
			Dims(in)
		}
		for _, ti := range m.GetGraph().GetInitializer() {
			Floats(ti)
		}
		for _, n := range m.GetGraph().GetNode() {
			AttrInts(n, "axis")
			AttrFloat(n, "alpha", 1)
		}
	})
}
