package nn

import (
	"fmt"
	"github.com/gopherdl/gopherdl/lib/data"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/model"
)

// randNormal returns a tensor of the given dimensions filled with standard normal
// values, in float32 or float64.
func randNormal[T float32 | float64](r *rand.Rand, dims ...int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	v := make([]T, n)
	for i := range v {
		v[i] = T(r.NormFloat64())
	}
	return tensors.FromFlatDataAndDimensions(v, dims...)
}

func randTensor(r *rand.Rand, dims ...int) *tensors.Tensor { return randNormal[float32](r, dims...) }

func randFloat64(r *rand.Rand, dims ...int) *tensors.Tensor { return randNormal[float64](r, dims...) }

// assertClose fails the test at the first element of got that differs from want by
// more than tol.
func assertClose(t *testing.T, what string, got, want *tensors.Tensor, tol float64) {
	t.Helper()
	a, b := tensors.MustCopyFlatData[float32](got), tensors.MustCopyFlatData[float32](want)
	if len(a) != len(b) {
		t.Fatalf("%s: %d elements, want %d", what, len(a), len(b))
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > tol {
			t.Fatalf("%s: element %d is %g, want %g", what, i, a[i], b[i])
		}
	}
}

// TestConvMatchesGoMLX checks the im2col product (Patches) and the grid convolution
// against GoMLX's own Convolve (plus the bias).
func TestConvMatchesGoMLX(t *testing.T) {
	backend := gobackend.GetBackend()
	r := rand.New(rand.NewPCG(1, 2))
	exec := graph.MustNewExec(backend, func(x, k, bias *graph.Node) (*graph.Node, *graph.Node, *graph.Node) {
		d := x.Shape().Dimensions
		cols := graph.Reshape(patches(x, 3), d[0]*d[1]*d[2], 27)
		patches := graph.Reshape(graph.MatMul(cols, graph.Reshape(k, 27, 4)), d[0], d[1], d[2], 4)
		ref := graph.Convolve(x, k).PadSame().Done()
		onGrid := graph.Sub(conv2DGrid(x, k, bias, 3), graph.Reshape(bias, 1, 1, 1, 4))
		return patches, onGrid, ref
	})
	out := exec.MustExec(randTensor(r, 2, 7, 6, 3), randTensor(r, 3, 3, 3, 4), randTensor(r, 4))
	assertClose(t, "Patches·kernel vs Convolve", out[0], out[2], 1e-4)
	assertClose(t, "grid Conv2D - bias vs Convolve", out[1], out[2], 1e-4)
}

// TestGradientsMatchNumerical checks the gradients of Patches (padding, slices,
// concatenation) and of MaxPool2x2 (not after a ReLU: the plain form) against
// central finite differences in float64.
func TestGradientsMatchNumerical(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const b, h, w, c = 1, 5, 4, 2
	proj := randFloat64(r, b, h/2, w/2, c*9)
	// f(x) = sum(proj * MaxPool2x2(patches(x))) -- a scalar touching every path.
	checkGradients(t, "pool of patches", func(in []*graph.Node) *graph.Node {
		p := MaxPool2x2(patches(in[0], 3))
		return graph.ReduceAllSum(graph.Mul(p, graph.Const(in[0].Graph(), proj)))
	}, randFloat64(r, b, h, w, c))
}

func TestNetSummaryParameterCounts(t *testing.T) {
	for _, tc := range []struct {
		h, w, c, want int
		flatten       int
	}{
		{32, 32, 3, 545098, 64 * 8 * 8},
		{28, 28, 1, 421642, 64 * 7 * 7},
	} {
		s, err := Summarize(Net(10), data.Shape{Channels: tc.c, Height: tc.h, Width: tc.w})
		if err != nil {
			t.Fatal(err)
		}
		if s.Total != tc.want {
			t.Errorf("%dx%dx%d: %d parameters, want %d\n%s", tc.c, tc.h, tc.w, s.Total, tc.want, s)
		}
		var flat []int
		for _, l := range s.Layers {
			if l.Name == "flatten" {
				flat = l.Output
			}
		}
		if len(flat) != 2 || flat[1] != tc.flatten {
			t.Errorf("%dx%dx%d: flatten output %v, want [B %d]", tc.c, tc.h, tc.w, flat, tc.flatten)
		}
		if !strings.Contains(s.String(), "/fc1 linear") {
			t.Errorf("summary lacks the fc1 row:\n%s", s)
		}
	}
}

// checkGradients compares the gradients of f (a scalar function of the float64
// tensors xs) computed by reverse autodiff with central finite differences.
func checkGradients(t *testing.T, name string, f func(xs []*graph.Node) *graph.Node, xs ...*tensors.Tensor) {
	t.Helper()
	backend := gobackend.GetBackend()
	valueExec := graph.MustNewExec(backend, f)
	gradExec := graph.MustNewExec(backend, func(in []*graph.Node) []*graph.Node {
		return graph.Gradient(f(in), in...)
	})
	args := make([]any, len(xs))
	for i, x := range xs {
		args[i] = x
	}
	grads := gradExec.MustExec(args...)
	const eps = 1e-6
	for i, x := range xs {
		flat := tensors.MustCopyFlatData[float64](x)
		grad := tensors.MustCopyFlatData[float64](grads[i])
		for j := range flat {
			eval := func(delta float64) float64 {
				v := append([]float64(nil), flat...)
				v[j] += delta
				a := append([]any(nil), args...)
				a[i] = tensors.FromFlatDataAndDimensions(v, x.Shape().Dimensions...)
				return valueExec.MustExec(a...)[0].Value().(float64)
			}
			num := (eval(eps) - eval(-eps)) / (2 * eps)
			if math.Abs(num-grad[j]) > 1e-5*(1+math.Abs(num)) {
				t.Errorf("%s: d f / d input%d[%d]: hand-written %g, numerical %g", name, i, j, grad[j], num)
			}
		}
	}
}

// TestConv2DGradientsMatchNumerical checks the grid convolution's hand-written
// gradients (with the conversions to and from the grid) with respect to the input,
// the weights and the biases.
func TestConv2DGradientsMatchNumerical(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct{ kernel, c, f, h, w int }{{3, 3, 4, 4, 5}, {1, 3, 4, 4, 5}, {3, 1, 12, 5, 4}, {3, 2, 20, 3, 3}, {5, 2, 3, 6, 7}} {
		const b = 2
		proj := randFloat64(r, b, tc.h, tc.w, tc.f)
		fn := func(in []*graph.Node) *graph.Node {
			y := conv2DGrid(in[0], in[1], in[2], tc.kernel)
			return graph.ReduceAllSum(graph.Mul(y, graph.Const(in[0].Graph(), proj)))
		}
		checkGradients(t, fmt.Sprintf("conv %dx%d, %d -> %d channels, %dx%d", tc.kernel, tc.kernel, tc.c, tc.f, tc.h, tc.w), fn,
			randFloat64(r, b, tc.h, tc.w, tc.c), randFloat64(r, tc.kernel, tc.kernel, tc.c, tc.f), randFloat64(r, tc.f))
	}
}

// TestGridChainGradientsMatchNumerical checks the gradients through the grid
// formulation's chain, as in the article's model: conv, ReLU, pool (on the
// convolution's grid), conv on the pooled grid, ReLU, pool, back to images. Odd
// sizes exercise the floor mode and the re-padding of odd grids; kernels 5 and 1,
// the phase grids' other paddings (phase.go).
func TestGridChainGradientsMatchNumerical(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct{ h, w, k1, k2 int }{{4, 6, 3, 3}, {7, 5, 3, 3}, {6, 10, 3, 3}, {9, 8, 5, 1}} {
		const b, c, f1, f2 = 2, 2, 3, 2
		proj := randFloat64(r, b, tc.h/4, tc.w/4, f2)
		fn := func(in []*graph.Node) *graph.Node {
			x := MaxPool2x2(ReLU(conv2DGrid(in[0], in[1], in[2], tc.k1)))
			if gridOf(x) == nil {
				panic("the pool of a convolution's ReLU has no grid")
			}
			x = MaxPool2x2(ReLU(conv2DGrid(x, in[3], in[4], tc.k2)))
			return graph.ReduceAllSum(graph.Mul(x, graph.Const(in[0].Graph(), proj)))
		}
		// Biases away from zero, so few ReLU inputs sit at the kink.
		b1, b2 := randFloat64(r, f1), randFloat64(r, f2)
		checkGradients(t, fmt.Sprintf("conv%d-relu-pool, conv%d-relu-pool on %dx%d", tc.k1, tc.k2, tc.h, tc.w), fn,
			randFloat64(r, b, tc.h, tc.w, c), randFloat64(r, tc.k1, tc.k1, c, f1), b1, randFloat64(r, tc.k2, tc.k2, f1, f2), b2)
	}
}

// TestPoolOfReLU checks that MaxPool2x2(ReLU(Conv2D(...))), which the grid
// formulation runs fused, has the values of the plain composition and gradients that
// match finite differences.
func TestPoolOfReLU(t *testing.T) {
	backend := gobackend.GetBackend()
	r := rand.New(rand.NewPCG(9, 10))
	x, k := randFloat64(r, 2, 4, 6, 3), randFloat64(r, 1, 1, 3, 3)
	// Biases shifted down so that about a third of the windows have a negative
	// maximum, where ReLU zeroes the gradient.
	bias := tensors.FromFlatDataAndDimensions([]float64{-0.8, -0.5, -1}, 3)
	exec := graph.MustNewExec(backend, func(x, k, bias *graph.Node) (*graph.Node, *graph.Node) {
		fused := MaxPool2x2(ReLU(conv2DGrid(x, k, bias, 1)))
		d := x.Shape().Dimensions
		y := activation.Relu(graph.Add(graph.Convolve(x, k).PadSame().Done(), graph.Reshape(bias, 1, 1, 1, -1)))
		plain := graph.ReduceMax(graph.Reshape(y, d[0], d[1]/2, 2, d[2]/2, 2, 3), 2, 4)
		return fused, plain
	})
	out := exec.MustExec(x, k, bias)
	a, b := tensors.MustCopyFlatData[float64](out[0]), tensors.MustCopyFlatData[float64](out[1])
	for i := range a {
		if math.Abs(a[i]-b[i]) > 1e-12 {
			t.Fatalf("element %d: fused %g, plain %g", i, a[i], b[i])
		}
	}
	proj := randFloat64(r, 2, 2, 3, 3)
	checkGradients(t, "pool of relu", func(in []*graph.Node) *graph.Node {
		y := MaxPool2x2(ReLU(conv2DGrid(in[0], in[1], in[2], 1)))
		return graph.ReduceAllSum(graph.Mul(y, graph.Const(in[0].Graph(), proj)))
	}, x, k, bias)
}

// TestLinearGradientsMatchNumerical checks Linear's hand-written gradients.
func TestLinearGradientsMatchNumerical(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	proj := randFloat64(r, 3, 4)
	checkGradients(t, "linear", func(in []*graph.Node) *graph.Node {
		y := linearFused(in[0], in[1], in[2])
		return graph.ReduceAllSum(graph.Mul(y, graph.Const(in[0].Graph(), proj)))
	}, randFloat64(r, 3, 5), randFloat64(r, 5, 4), randFloat64(r, 4))
}

// TestFormulationsAgree runs the article's CNN with both formulations on the pure-Go
// backend, the grid one (the Go backend's) and the XLA one (GoMLX's Convolve and
// MaxPool, differentiated by GoMLX), on the same weights, and checks that the logits
// and the gradients of a loss with respect to every weight agree, in float64.
func TestFormulationsAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, s := range []struct{ b, c, h, w int }{{2, 3, 12, 10}, {2, 1, 28, 28}, {3, 2, 7, 9}} {
		store := model.NewStore()
		images := randFloat64(r, s.b, s.h, s.w, s.c)
		proj := randFloat64(r, s.b, 10)
		names, grid := netGradients(t, store, gridForm, images, proj)
		_, xla := netGradients(t, store, xlaForm, images, proj)
		if len(grid) != len(xla) || len(names) != 9 {
			t.Fatalf("%v: outputs %d and %d, variables %v", s, len(grid), len(xla), names)
		}
		for i := range grid {
			what := "logits"
			if i > 0 {
				what = "gradient of " + names[i-1]
			}
			a, b := tensors.MustCopyFlatData[float64](grid[i]), tensors.MustCopyFlatData[float64](xla[i])
			for j := range a {
				if math.Abs(a[j]-b[j]) > 1e-9*(1+math.Abs(b[j])) {
					t.Fatalf("%dx%dx%dx%d, %s, element %d: grid %g, xla %g", s.b, s.c, s.h, s.w, what, j, a[j], b[j])
				}
			}
		}
	}
}

// TestSummarizeRunsNothing checks that Summarize learns the shapes from the graph
// being built: no weight is initialised (an initialiser's graph is built only to
// run it), and a model whose computation would fail when run is summarised.
func TestSummarizeRunsNothing(t *testing.T) {
	initialised := false
	fn := func(scope *Scope, x *Node) *Node {
		scope = scope.WithInitializer(func(g *graph.Graph, s shapes.Shape) *graph.Node {
			initialised = true
			return graph.Zeros(g, s)
		})
		x = Linear(scope.In("fc"), Flatten(x), 3)
		x = graph.Add(x, scope.VariableWithShape("shift", shapes.Make(x.DType(), 1, 3)).NodeValue(x.Graph()))
		// A gather out of range would fail at run time on the Go backend.
		idx := graph.Const(x.Graph(), tensors.FromFlatDataAndDimensions([]int32{1 << 30}, 1, 1))
		return graph.Add(x, graph.Reshape(graph.BackendGather(graph.Reshape(x, -1), idx, 1, nil, []int{0}, []int{0}, []int{1}, false), 1, 1))
	}
	s, err := Summarize(fn, data.Shape{Channels: 1, Height: 4, Width: 4})
	if err != nil {
		t.Fatal(err)
	}
	if initialised || s.Total != 16*3+3+3 || len(s.Layers) != 2 {
		t.Errorf("initialised %v, summary:\n%s", initialised, s)
	}
}

// TestPhaseConvolutionMatchesGoMLX checks the values and gradients of the convolution
// by phases and its pool (phase.go) against GoMLX's Convolve and MaxPool, in float64,
// through two and three conv-ReLU-pool layers: kernels 1 to 7, odd sizes, and batches
// split into several groups (GOMAXPROCS raised for the graphs' construction), where a
// mix-up of the phase grids' block layouts, or a shift that is wrong the same way in
// the gather and its scatter, would not show in the gradient checks.
func TestPhaseConvolutionMatchesGoMLX(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(16))
	backend := gobackend.GetBackend()
	r := rand.New(rand.NewPCG(99, 100))
	for _, tc := range []struct {
		b, h, w int
		kernels []int
	}{
		{24, 9, 7, []int{5, 7}}, {24, 11, 13, []int{7, 5}}, {20, 7, 5, []int{5, 5}},
		{16, 6, 6, []int{1, 3}}, {3, 13, 11, []int{3, 5}}, {24, 17, 18, []int{3, 5, 3}},
	} {
		groups := phaseGroupsFor(tc.b)
		name := fmt.Sprintf("%dx%dx%d, kernels %v, %d groups", tc.b, tc.h, tc.w, tc.kernels, groups)
		const c, f = 2, 3
		inputs := []*tensors.Tensor{randFloat64(r, tc.b, tc.h, tc.w, c)}
		in := c
		for _, k := range tc.kernels {
			inputs = append(inputs, randFloat64(r, k, k, in, f), randFloat64(r, f))
			in = f
		}
		s := 1 << len(tc.kernels)
		proj := randFloat64(r, tc.b, tc.h/s, tc.w/s, f)
		run := func(layer func(x, w, b *graph.Node, k int) *graph.Node) []*tensors.Tensor {
			exec := graph.MustNewExec(backend, func(in []*graph.Node) []*graph.Node {
				x := in[0]
				for i, k := range tc.kernels {
					x = layer(x, in[1+2*i], in[2+2*i], k)
				}
				loss := graph.ReduceAllSum(graph.Mul(x, graph.Const(x.Graph(), proj)))
				return append([]*graph.Node{x}, graph.Gradient(loss, in...)...)
			})
			defer exec.Finalize()
			args := make([]any, len(inputs))
			for i, v := range inputs {
				args[i] = v
			}
			return exec.MustExec(args...)
		}
		phases := run(func(x, w, b *graph.Node, k int) *graph.Node {
			return MaxPool2x2(ReLU(conv2DGrid(x, w, b, k)))
		})
		plain := run(func(x, w, b *graph.Node, k int) *graph.Node {
			y := graph.Add(graph.Convolve(x, w).PadSame().Done(), graph.Reshape(b, 1, 1, 1, -1))
			return maxPool2x2XLA(activation.Relu(y))
		})
		for i := range phases {
			a, b := tensors.MustCopyFlatData[float64](phases[i]), tensors.MustCopyFlatData[float64](plain[i])
			for j := range b {
				if math.Abs(a[j]-b[j]) > 1e-9*(1+math.Abs(b[j])) {
					t.Errorf("%s, output %d (0: pooled, then the gradients), element %d: %g, GoMLX %g", name, i, j, a[j], b[j])
					break
				}
			}
		}
		if groups < 2 && tc.b >= 16 {
			t.Errorf("%s: want the batch split into groups here", name)
		}
	}
}
