package nn

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"

	"github.com/gopherdl/gopherdl/lib/data/embedded"
)

// fashionImages returns n Fashion-MNIST test images as float64 [n, size, size, c]
// in [0, 1]: channel j of image i is image i*c+j, centred on a black size x size
// canvas (size >= 28), so the images keep their black backgrounds.
func fashionImages(t *testing.T, n, size, c int) *tensors.Tensor {
	t.Helper()
	_, test := embedded.MustLoad()
	v := make([]float64, n*size*size*c)
	off := (size - 28) / 2
	for i := range n {
		for j := range c {
			px, _ := test.Image(i*c + j)
			for y := range 28 {
				for x := range 28 {
					v[((i*size+y+off)*size+x+off)*c+j] = float64(px[y*28+x]) / 255
				}
			}
		}
	}
	return tensors.FromFlatDataAndDimensions(v, n, size, size, c)
}

// netGradients runs Net(10) with formulation f on the pure-Go backend and returns
// the logits, then the gradients of a fixed projection of them with respect to the
// images and to every weight (sorted by path), in float64.
func netGradients(t *testing.T, store *model.Store, f formulation, images, proj *tensors.Tensor) (names []string, out []*tensors.Tensor) {
	t.Helper()
	exec, err := model.NewExec(backendFor(f), store, func(scope *model.Scope, x *graph.Node) []*graph.Node {
		g := x.Graph()
		store.SetTraining(g, true) // weights as parameters, not constants
		logits := Net(10)(scope, x)
		loss := graph.ReduceAllSum(graph.Mul(logits, graph.Const(g, proj)))
		nodes := []*graph.Node{x}
		names = []string{"images"}
		for _, v := range sortedVariables(scope) {
			nodes = append(nodes, v.NodeValue(g))
			names = append(names, v.Path())
		}
		return append([]*graph.Node{logits}, graph.Gradient(loss, nodes...)...)
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

// TestPoolGradientTies checks that the Go formulation's max-pool gradient goes to
// the first maximum of each 2x2 window in row-major order, as PyTorch's and XLA's
// do (GoMLX's MaxPool, SelectAndScatter on the Go backend): every gradient of Net
// agrees with the XLA formulation's on inputs full of ties, real Fashion-MNIST
// images on their black backgrounds (1x28x28, and three of them as the channels of
// a 3x32x32 image) and constant images, where a uniform region makes every window
// of conv2's input tie.
func TestPoolGradientTies(t *testing.T) {
	cases := []struct {
		name   string
		images *tensors.Tensor
	}{
		{"fashion 1x28x28", fashionImages(t, 4, 28, 1)},
		{"fashion 3x32x32", fashionImages(t, 4, 32, 3)},
		{"constant 1x28x28", constImages(4, 28, 1, 0.5)},
		{"zeros 3x32x32", constImages(4, 32, 3, 0)},
	}
	for _, tc := range cases {
		store := model.NewStore()
		proj := randFloat64(newRand(21, 22), tc.images.Shape().Dimensions[0], 10)
		names, grid := netGradients(t, store, gridForm, tc.images, proj)
		_, xla := netGradients(t, store, xlaForm, tc.images, proj)
		for i := range grid {
			what := "logits"
			if i > 0 {
				what = "gradient of " + names[i-1]
			}
			a, b := tensors.MustCopyFlatData[float64](grid[i]), tensors.MustCopyFlatData[float64](xla[i])
			worst, at := 0.0, 0
			for j := range a {
				if d := math.Abs(a[j]-b[j]) / (1 + math.Abs(b[j])); d > worst {
					worst, at = d, j
				}
			}
			if worst > 1e-9 {
				t.Errorf("%s, %s: element %d is %g on the Go formulation, %g with GoMLX's MaxPool", tc.name, what, at, a[at], b[at])
			}
		}
	}
}

func constImages(n, size, c int, v float64) *tensors.Tensor {
	d := make([]float64, n*size*size*c)
	for i := range d {
		d[i] = v
	}
	return tensors.FromFlatDataAndDimensions(d, n, size, size, c)
}

func newRand(a, b uint64) *rand.Rand { return rand.New(rand.NewPCG(a, b)) }

// sortedVariables lists scope's trainable variables by path.
func sortedVariables(scope *model.Scope) []*model.Variable {
	var vars []*model.Variable
	for v := range scope.IterVariables() {
		if v.Trainable {
			vars = append(vars, v)
		}
	}
	sort.Slice(vars, func(i, j int) bool { return vars[i].Path() < vars[j].Path() })
	return vars
}

// TestIndicesPast2To31 checks the gather indices of a convolution's and a crop's
// grid when it holds more than 2^31 values: int64, and exact (an int32 would wrap).
// Only the indices are computed: a few per image, never the grid itself.
func TestIndicesPast2To31(t *testing.T) {
	// 2^21 images per group of 32x32 grids, 2 channels, a 1x1 kernel, one run per
	// group: channel 1 starts past 2^31.
	const bg, hq, wq = 1 << 21, 32, 32
	lb := int64(bg+2) * hq * wq
	starts := convStarts(1, 2, 1, 1, bg+2, hq, wq, false)
	if want := []int64{hq * wq, lb + hq*wq}; !slices.Equal(starts, want) || want[1] <= math.MaxInt32 {
		t.Errorf("conv starts %v, want %v (past 2^31)", starts, want)
	}
	if got := indexDType(2 * lb); got != dtypes.Int64 {
		t.Errorf("indices into %d values: %s, want int64", 2*lb, got)
	}
	if got := indexDType(math.MaxInt32); got != dtypes.Int32 {
		t.Errorf("indices into 2^31-1 values: %s, want int32", got)
	}
	// 1024 images of 32 rows of 32x4096 values: the last row starts near 2^32.
	crop := cropStarts(1024, 32, 32, 32*4096)
	if last, want := crop[len(crop)-1], int64(1024*32-1)*32*4096; last != want || want <= math.MaxInt32 {
		t.Errorf("last crop start %d, want %d", last, want)
	}
}

// renamed is a backend under another name than its own.
type renamed struct{ compute.Backend }

func (renamed) String() string { return "go, under another name" }

// backendFor returns the pure-Go backend for f: itself for the grid formulation,
// and under another name for the XLA one, which the layers then take (GoMLX's
// Convolve, MaxPool and generic gradients, which the Go backend also runs). The
// tests compare the two formulations on one backend this way.
func backendFor(f formulation) compute.Backend {
	if f == gridForm {
		return gobackend.GetBackend()
	}
	return renamed{gobackend.GetBackend()}
}

// onHost returns a copy of x that no backend holds yet: a tensor sent to one
// backend cannot go to another.
func onHost(x *tensors.Tensor) *tensors.Tensor { return tensors.MustFromAnyValue(x.Value()) }

// rehome replaces the values of store's variables by copies that no backend holds
// yet, so that the next graph may run on another backend (backendFor).
func rehome(store *model.Store) {
	for v := range store.IterVariables() {
		if v.HasValue() {
			if err := v.SetValue(onHost(v.MustValue())); err != nil {
				panic(err)
			}
		}
	}
}

// TestXLALayersMakeTheSameVariables checks that on the XLA formulation, where Conv2D
// and Linear are GoMLX's layers.Convolution and layers.Dense, the model has the
// same variables as on the Go one, with the same initial values from the same
// seed: checkpoints move between backends.
func TestXLALayersMakeTheSameVariables(t *testing.T) {
	images := fashionImages(t, 2, 32, 3)
	variables := func(f formulation) map[string][]float64 {
		store := model.NewStore()
		store.SetParam(initializer.ParamInitialSeed, int64(7))
		exec, err := model.NewExec(backendFor(f), store, func(scope *model.Scope, x *graph.Node) *graph.Node {
			return Net(10)(scope, x)
		})
		if err != nil {
			t.Fatal(err)
		}
		defer exec.Finalize()
		// Building the graph makes the variables; the initialisers then run on the
		// backend itself.
		if _, err := exec.Compile(images.Shape()); err != nil {
			t.Fatal(err)
		}
		if err := store.InitializeVariables(gobackend.GetBackend(), nil); err != nil {
			t.Fatal(err)
		}
		out := map[string][]float64{}
		for _, v := range sortedVariables(store.RootScope()) {
			out[fmt.Sprintf("%s %v", v.Path(), v.Shape().Dimensions)] = tensors.MustCopyFlatData[float64](v.MustValue())
		}
		return out
	}
	grid, xla := variables(gridForm), variables(xlaForm)
	if len(grid) != 8 || !slices.Equal(slices.Sorted(maps.Keys(grid)), slices.Sorted(maps.Keys(xla))) {
		t.Fatalf("variables %v on the Go formulation, %v on the XLA one", slices.Sorted(maps.Keys(grid)), slices.Sorted(maps.Keys(xla)))
	}
	for name, a := range grid {
		if !slices.Equal(a, xla[name]) {
			t.Errorf("%s: initial values differ between the formulations", name)
		}
	}
}
