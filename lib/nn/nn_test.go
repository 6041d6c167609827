package nn

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

func randTensor(r *rand.Rand, dims ...int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return tensors.FromFlatDataAndDimensions(v, dims...)
}

// TestConvMatchesGoMLX checks the im2col convolution against GoMLX's own Convolve.
func TestConvMatchesGoMLX(t *testing.T) {
	backend := gobackend.GetBackend()
	r := rand.New(rand.NewPCG(1, 2))
	x := randTensor(r, 2, 7, 6, 3)
	k := randTensor(r, 3, 3, 3, 4)
	exec := graph.MustNewExec(backend, func(x, k *graph.Node) (*graph.Node, *graph.Node) {
		d := x.Shape().Dimensions
		cols := graph.Reshape(Patches(x, 3), d[0]*d[1]*d[2], 27)
		ours := graph.Reshape(graph.MatMul(cols, graph.Reshape(k, 27, 4)), d[0], d[1], d[2], 4)
		ref := graph.Convolve(x, k).PadSame().Done()
		return ours, ref
	})
	out := exec.MustExec(x, k)
	a, b := tensors.MustCopyFlatData[float32](out[0]), tensors.MustCopyFlatData[float32](out[1])
	if len(a) != len(b) {
		t.Fatalf("sizes differ: %d vs %d", len(a), len(b))
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-4 {
			t.Fatalf("element %d: im2col %g, GoMLX Convolve %g", i, a[i], b[i])
		}
	}
}

// TestGradientsMatchNumerical checks the gradients of Patches (padding, slices,
// concatenation) and MaxPool2x2 against central finite differences in float64.
func TestGradientsMatchNumerical(t *testing.T) {
	backend := gobackend.GetBackend()
	r := rand.New(rand.NewPCG(3, 4))
	const b, h, w, c = 1, 5, 4, 2
	x := make([]float64, b*h*w*c)
	for i := range x {
		x[i] = r.NormFloat64()
	}
	proj := make([]float64, b*(h/2)*(w/2)*c*9)
	for i := range proj {
		proj[i] = r.NormFloat64()
	}
	// f(x) = sum(proj * MaxPool2x2(Patches(x))) -- a scalar touching every path.
	f := func(x *graph.Node) *graph.Node {
		p := MaxPool2x2(Patches(x, 3))
		pr := graph.Const(x.Graph(), tensors.FromFlatDataAndDimensions(proj, p.Shape().Dimensions...))
		return graph.ReduceAllSum(graph.Mul(p, pr))
	}
	valueExec := graph.MustNewExec(backend, f)
	gradExec := graph.MustNewExec(backend, func(x *graph.Node) *graph.Node {
		return graph.Gradient(f(x), x)[0]
	})
	eval := func(v []float64) float64 {
		return valueExec.MustExec(tensors.FromFlatDataAndDimensions(v, b, h, w, c))[0].Value().(float64)
	}
	grad := tensors.MustCopyFlatData[float64](gradExec.MustExec(tensors.FromFlatDataAndDimensions(x, b, h, w, c))[0])
	const eps = 1e-6
	for i := range x {
		xp := append([]float64(nil), x...)
		xm := append([]float64(nil), x...)
		xp[i] += eps
		xm[i] -= eps
		num := (eval(xp) - eval(xm)) / (2 * eps)
		if math.Abs(num-grad[i]) > 1e-5*(1+math.Abs(num)) {
			t.Errorf("d f / d x[%d]: autodiff %g, numerical %g", i, grad[i], num)
		}
	}
}

func TestNetSummaryParameterCounts(t *testing.T) {
	backend := gobackend.GetBackend()
	for _, tc := range []struct {
		h, w, c, want int
		flatten       int
	}{
		{32, 32, 3, 545098, 64 * 8 * 8},
		{28, 28, 1, 421642, 64 * 7 * 7},
	} {
		s, err := Summarize(backend, Net(10), tc.h, tc.w, tc.c)
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
