package nn

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"

	"github.com/gopherdl/gopherdl/lib/data"
)

func TestSummaryNames(t *testing.T) {
	s, err := Summarize(Net(10), data.Shape{Channels: 1, Height: 28, Width: 28})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"conv1", "conv1/relu", "conv1/maxpool2x2", "conv2", "conv2/relu", "conv2/maxpool2x2",
		"conv2/flatten", "fc1", "fc1/relu", "fc2"}
	if got := s.Names(); !slices.Equal(got, want) {
		t.Errorf("Net's layer names %q, want %q", got, want)
	}
	// Layers without a scope of their own, twice after the same one, and before any.
	got := layerNames([]string{"", "/a/b", "", ""}, []string{"flatten", "linear", "relu", "relu"})
	if want := []string{"flatten", "a/b", "a/b/relu", "a/b/relu#2"}; !slices.Equal(got, want) {
		t.Errorf("layerNames: %q, want %q", got, want)
	}
}

// TestLayerOutputs builds Net with LayerOutputs on the pure-Go backend and checks
// each output against a direct computation from the layer before it: the
// convolution from the store's weights, ReLU, the 2x2 max-pool, the flatten, and the
// logits against the last layer.
func TestLayerOutputs(t *testing.T) {
	backend := gobackend.GetBackend()
	store := model.NewStore()
	const h, w = 6, 4
	var names []string
	exec, err := model.NewExec(backend, store, func(scope *model.Scope, images *graph.Node) []*graph.Node {
		logits, layers := LayerOutputs(scope, images, Net(3))
		out := []*graph.Node{logits}
		for _, l := range layers {
			names = append(names, l.Name)
			out = append(out, l.Node)
		}
		return out
	})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	in := randTensor(rand.New(rand.NewPCG(5, 6)), 2, h, w, 1)
	outs, err := exec.Call(in)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"conv1", "conv1/relu", "conv1/maxpool2x2", "conv2", "conv2/relu", "conv2/maxpool2x2",
		"conv2/flatten", "fc1", "fc1/relu", "fc2"}
	if !slices.Equal(names, want) {
		t.Fatalf("layer names %q, want %q", names, want)
	}
	flat := func(v []float32) *tensors.Tensor { return tensors.FromFlatDataAndDimensions(v, len(v)) }
	conv1 := directConv(tensors.MustCopyFlatData[float32](in), 2, h, w, 1,
		variable(t, store, "/conv1/conv/weights"), variable(t, store, "/conv1/conv/biases"), 32)
	assertClose(t, "conv1 vs a direct convolution", outs[1], flat(conv1), 1e-4)
	relu := make([]float32, len(conv1))
	for i, v := range conv1 {
		relu[i] = max(v, 0)
	}
	assertClose(t, "conv1/relu", outs[2], flat(relu), 1e-4)
	assertClose(t, "conv1/maxpool2x2", outs[3], flat(directPool(relu, 2, h, w, 32)), 1e-4)
	assertClose(t, "conv2/flatten vs conv2/maxpool2x2", outs[7], outs[6], 0)
	assertClose(t, "logits vs fc2", outs[0], outs[10], 0)
	if d := outs[1].Shape().Dimensions; !slices.Equal(d, []int{2, h, w, 32}) {
		t.Errorf("conv1's output is %v, want [2 %d %d 32]", d, h, w)
	}
}

// variable returns a store variable's values.
func variable(t *testing.T, store *model.Store, path string) []float32 {
	t.Helper()
	v := store.GetVariable(path)
	if v == nil {
		t.Fatalf("no variable %s", path)
	}
	return tensors.MustCopyFlatData[float32](v.MustValue())
}

// directConv is a same-padded 3x3 convolution with bias, in plain loops: x
// [b, h, w, c], kernel [3, 3, c, f].
func directConv(x []float32, b, h, w, c int, kernel, bias []float32, f int) []float32 {
	out := make([]float32, b*h*w*f)
	for n := range b {
		for y := range h {
			for xx := range w {
				for o := range f {
					sum := float64(bias[o])
					for ky := range 3 {
						for kx := range 3 {
							sy, sx := y+ky-1, xx+kx-1
							if sy < 0 || sy >= h || sx < 0 || sx >= w {
								continue
							}
							for i := range c {
								sum += float64(x[((n*h+sy)*w+sx)*c+i]) * float64(kernel[((ky*3+kx)*c+i)*f+o])
							}
						}
					}
					out[((n*h+y)*w+xx)*f+o] = float32(sum)
				}
			}
		}
	}
	return out
}

// directPool is a 2x2 max-pool with stride 2 of x [b, h, w, c] (h and w even).
func directPool(x []float32, b, h, w, c int) []float32 {
	out := make([]float32, 0, b*h*w*c/4)
	for n := range b {
		for y := 0; y < h; y += 2 {
			for xx := 0; xx < w; xx += 2 {
				for i := range c {
					at := func(dy, dx int) float32 { return x[((n*h+y+dy)*w+xx+dx)*c+i] }
					out = append(out, max(at(0, 0), at(0, 1), at(1, 0), at(1, 1)))
				}
			}
		}
	}
	return out
}

func TestMLP(t *testing.T) {
	shape := data.Shape{Channels: 1, Height: 28, Width: 28}
	for _, tc := range []struct {
		hidden []int
		params []int // per linear layer
		names  []string
	}{
		{nil, []int{784*10 + 10}, []string{"flatten", "fc1"}},
		{[]int{256}, []int{784*256 + 256, 256*10 + 10}, []string{"flatten", "fc1", "fc1/relu", "fc2"}},
		{[]int{256, 64}, []int{784*256 + 256, 256*64 + 64, 64*10 + 10}, []string{"flatten", "fc1", "fc1/relu", "fc2", "fc2/relu", "fc3"}},
	} {
		s, err := Summarize(MLP(10, tc.hidden...), shape)
		if err != nil {
			t.Fatal(err)
		}
		var got []int
		total := 0
		for _, l := range s.Layers {
			if l.Params > 0 {
				got = append(got, l.Params)
			}
		}
		for _, p := range tc.params {
			total += p
		}
		if !slices.Equal(got, tc.params) || s.Total != total {
			t.Errorf("MLP(10, %v): parameters %v (total %d), want %v (total %d)\n%s", tc.hidden, got, s.Total, tc.params, total, s)
		}
		if names := s.Names(); !slices.Equal(names, tc.names) {
			t.Errorf("MLP(10, %v): layers %q, want %q", tc.hidden, names, tc.names)
		}
		if out := s.Layers[len(s.Layers)-1].Output; !slices.Equal(out, []int{1, 10}) {
			t.Errorf("MLP(10, %v): logits %v, want [1 10]", tc.hidden, out)
		}
	}
	if _, err := Summarize(MLP(10, 0), shape); err == nil {
		t.Error("MLP(10, 0) built; want an error for a layer of 0 units")
	}
}

// TestMLPInitialisation checks PyTorch's nn.Linear initialisation: weights and
// biases uniform in [-1/sqrt(fan_in), 1/sqrt(fan_in)] (standard deviation
// bound/sqrt(3)).
func TestMLPInitialisation(t *testing.T) {
	store := model.NewStore()
	// A fixed seed: the check of the standard deviation is statistical.
	store.SetParam(initializer.ParamInitialSeed, int64(1))
	exec, err := model.NewExec(gobackend.GetBackend(), store, func(scope *model.Scope, images *graph.Node) *graph.Node {
		return MLP(10, 256)(scope, images)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	if _, err := exec.Call(tensors.FromShape(randTensor(rand.New(rand.NewPCG(1, 1)), 1, 28, 28, 1).Shape())); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path  string
		fanIn int
	}{{"/fc1/dense/weights", 784}, {"/fc1/dense/biases", 784}, {"/fc2/dense/weights", 256}} {
		v := variable(t, store, tc.path)
		bound := 1 / math.Sqrt(float64(tc.fanIn))
		sq := 0.0
		for _, x := range v {
			if math.Abs(float64(x)) > bound {
				t.Fatalf("%s: %g outside ±%g", tc.path, x, bound)
			}
			sq += float64(x) * float64(x)
		}
		std, want := math.Sqrt(sq/float64(len(v))), bound/math.Sqrt(3)
		if len(v) > 1000 && math.Abs(std-want) > 0.02*want {
			t.Errorf("%s: standard deviation %g, want %g (uniform)", tc.path, std, want)
		}
	}
}

// TestLayerOutputsAgreeAcrossFormulations checks that the grid formulation (the Go
// backend's) and the XLA one name the same layers and compute the same outputs for
// each, on the same weights: Activations shows the same tensors on every backend.
func TestLayerOutputsAgreeAcrossFormulations(t *testing.T) {
	store := model.NewStore()
	images := randFloat64(rand.New(rand.NewPCG(15, 16)), 2, 10, 6, 1)
	run := func(f formulation) (names []string, out []*tensors.Tensor) {
		exec, err := model.NewExec(backendFor(f), store, func(scope *model.Scope, x *graph.Node) []*graph.Node {
			store.SetTraining(x.Graph(), true) // weights as parameters, not constants
			_, layers := LayerOutputs(scope, x, Net(4))
			nodes := make([]*graph.Node, len(layers))
			for i, l := range layers {
				names, nodes[i] = append(names, l.Name), l.Node
			}
			return nodes
		})
		if err != nil {
			t.Fatal(err)
		}
		defer exec.Finalize()
		defer rehome(store)
		if out, err = exec.Call(onHost(images)); err != nil {
			t.Fatal(err)
		}
		return names, out
	}
	namesGrid, grid := run(gridForm)
	namesXLA, xla := run(xlaForm)
	if !slices.Equal(namesGrid, namesXLA) || len(grid) != 10 {
		t.Fatalf("layers %q (grid) and %q (xla)", namesGrid, namesXLA)
	}
	for i := range grid {
		a, b := tensors.MustCopyFlatData[float64](grid[i]), tensors.MustCopyFlatData[float64](xla[i])
		for j := range a {
			if math.Abs(a[j]-b[j]) > 1e-9*(1+math.Abs(b[j])) {
				t.Fatalf("%s, element %d: grid %g, xla %g", namesGrid[i], j, a[j], b[j])
			}
		}
	}
}
