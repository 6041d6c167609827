package nn

import (
	"fmt"
	"github.com/gopherdl/gopherdl/lib/data"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers/activation"
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

// TestConvMatchesGoMLX checks the im2col product (Patches) and the fused Conv2D
// computation against GoMLX's own Convolve (plus the bias).
func TestConvMatchesGoMLX(t *testing.T) {
	backend := gobackend.GetBackend()
	r := rand.New(rand.NewPCG(1, 2))
	exec := graph.MustNewExec(backend, func(x, k, bias *graph.Node) (*graph.Node, *graph.Node, *graph.Node) {
		d := x.Shape().Dimensions
		cols := graph.Reshape(Patches(x, 3), d[0]*d[1]*d[2], 27)
		patches := graph.Reshape(graph.MatMul(cols, graph.Reshape(k, 27, 4)), d[0], d[1], d[2], 4)
		ref := graph.Convolve(x, k).PadSame().Done()
		fused := graph.Sub(conv2DFused(x, k, bias, 3), graph.Reshape(bias, 1, 1, 1, 4))
		return patches, fused, ref
	})
	out := exec.MustExec(randTensor(r, 2, 7, 6, 3), randTensor(r, 3, 3, 3, 4), randTensor(r, 4))
	assertClose(t, "Patches·kernel vs Convolve", out[0], out[2], 1e-4)
	assertClose(t, "fused Conv2D - bias vs Convolve", out[1], out[2], 1e-4)
}

// TestGradientsMatchNumerical checks the gradients of Patches (padding, slices,
// concatenation) and of MaxPool2x2 (not after a ReLU: the plain form) against
// central finite differences in float64.
func TestGradientsMatchNumerical(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const b, h, w, c = 1, 5, 4, 2
	proj := randFloat64(r, b, h/2, w/2, c*9)
	// f(x) = sum(proj * MaxPool2x2(Patches(x))) -- a scalar touching every path.
	checkGradients(t, "pool of patches", func(in []*graph.Node) *graph.Node {
		p := MaxPool2x2(Patches(in[0], 3))
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

// TestConv2DGradientsMatchNumerical checks the fused convolution's hand-written
// gradients with respect to the input, the weights and the biases.
func TestConv2DGradientsMatchNumerical(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	// Both weight-gradient paths: f <= k*k*c+1 (dY transposed) and f > k*k*c+1 (the
	// channels-first im2col, reshaped for one channel, transposed for more).
	for _, tc := range []struct{ kernel, c, f int }{{3, 3, 4}, {1, 3, 4}, {3, 1, 12}, {3, 2, 20}} {
		const b, h, w = 2, 4, 5
		proj := randFloat64(r, b, h, w, tc.f)
		fn := func(in []*graph.Node) *graph.Node {
			y := conv2DFused(in[0], in[1], in[2], tc.kernel)
			return graph.ReduceAllSum(graph.Mul(y, graph.Const(in[0].Graph(), proj)))
		}
		checkGradients(t, fmt.Sprintf("conv %dx%d, %d -> %d channels", tc.kernel, tc.kernel, tc.c, tc.f), fn,
			randFloat64(r, b, h, w, tc.c), randFloat64(r, tc.kernel, tc.kernel, tc.c, tc.f), randFloat64(r, tc.f))
	}
}

// TestPoolOfReLU checks that MaxPool2x2(ReLU(x)), which runs fused, has the values of
// the plain composition and gradients that match finite differences.
func TestPoolOfReLU(t *testing.T) {
	backend := gobackend.GetBackend()
	r := rand.New(rand.NewPCG(9, 10))
	// Shifted down so that about a third of the windows have a negative maximum,
	// where ReLU zeroes the gradient.
	x := randFloat64(r, 2, 4, 6, 3)
	x.MutableFlatData(func(flat any) {
		for i, v := range flat.([]float64) {
			flat.([]float64)[i] = v - 0.8
		}
	})
	exec := graph.MustNewExec(backend, func(x *graph.Node) (*graph.Node, *graph.Node) {
		fused := MaxPool2x2(ReLU(x))
		d := x.Shape().Dimensions
		plain := graph.ReduceMax(graph.Reshape(activation.Relu(x), d[0], d[1]/2, 2, d[2]/2, 2, d[3]), 2, 4)
		return fused, plain
	})
	out := exec.MustExec(x)
	a, b := tensors.MustCopyFlatData[float64](out[0]), tensors.MustCopyFlatData[float64](out[1])
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("element %d: fused %g, plain %g", i, a[i], b[i])
		}
	}
	proj := randFloat64(r, 2, 2, 3, 3)
	checkGradients(t, "pool of relu", func(in []*graph.Node) *graph.Node {
		return graph.ReduceAllSum(graph.Mul(MaxPool2x2(ReLU(in[0])), graph.Const(in[0].Graph(), proj)))
	}, x)
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
