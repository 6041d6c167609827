package plot

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gopherdl/gopherdl/lib/nn"
)

// randomGrid returns an h x w grid of small whole numbers in [-3, 3].
func randomGrid(r *rand.Rand, h, w int) [][]float64 {
	g := make([][]float64, h)
	for i := range g {
		g[i] = make([]float64, w)
		for j := range g[i] {
			g[i][j] = float64(r.IntN(7) - 3)
		}
	}
	return g
}

// layerOutputs runs lib/nn's Conv2D (with the kernel as its weights and a zero
// bias), then ReLU and MaxPool2x2, on the grid as one 1-channel image, on the
// pure-Go backend: the layers the model itself uses.
func layerOutputs(t *testing.T, input, kernel [][]float64) (conv, pooled []float32) {
	t.Helper()
	h, w, k := len(input), len(input[0]), len(kernel)
	var x, kw []float32
	for _, row := range input {
		for _, v := range row {
			x = append(x, float32(v))
		}
	}
	for _, row := range kernel {
		for _, v := range row {
			kw = append(kw, float32(v))
		}
	}
	store := model.NewStore()
	if _, err := store.CreateVariable("/conv/weights", tensors.FromFlatDataAndDimensions(kw, k, k, 1, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateVariable("/conv/biases", tensors.FromFlatDataAndDimensions([]float32{0}, 1)); err != nil {
		t.Fatal(err)
	}
	exec, err := model.NewExec(gobackend.GetBackend(), store, func(scope *model.Scope, images *graph.Node) (*graph.Node, *graph.Node) {
		y := nn.Conv2D(scope, images, 1, k)
		return y, nn.MaxPool2x2(nn.ReLU(y))
	})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	out, err := exec.Call(tensors.FromFlatDataAndDimensions(x, 1, h, w, 1))
	if err != nil {
		t.Fatal(err)
	}
	return tensors.MustCopyFlatData[float32](out[0]), tensors.MustCopyFlatData[float32](out[1])
}

// TestWorkedGridsMatchTheLayers checks ConvolveGrid and MaxPoolGrid, the numbers the
// worked figures show, against a sum written out by hand for one cell and against
// lib/nn's own Conv2D, ReLU and MaxPool2x2 on random grids, odd sizes included.
func TestWorkedGridsMatchTheLayers(t *testing.T) {
	input := [][]float64{{1, 2, 0}, {0, 1, 3}, {4, 0, 1}}
	kernel := [][]float64{{1, 0, -1}, {2, 0, -2}, {1, 0, -1}}
	out, err := ConvolveGrid(input, kernel)
	if err != nil {
		t.Fatal(err)
	}
	// Row 1, column 1 sees the whole input: 1·1 + 2·0 + 0·(-1) + 0·2 + 1·0 + 3·(-2) + 4·1 + 0·0 + 1·(-1) = -2.
	// Row 0, column 0 sees the padding: 0 + 0 + 0 + 0 + 1·0 + 2·(-2) + 0 + 0·0 + 1·(-1) = -5.
	if out[1][1] != -2 || out[0][0] != -5 {
		t.Errorf("ConvolveGrid: centre %g, corner %g; want -2 and -5", out[1][1], out[0][0])
	}
	r := rand.New(rand.NewPCG(7, 8))
	for _, size := range [][2]int{{6, 6}, {5, 7}, {4, 3}} {
		in := randomGrid(r, size[0], size[1])
		k := randomGrid(r, 3, 3)
		conv, err := ConvolveGrid(in, k)
		if err != nil {
			t.Fatal(err)
		}
		pooled, err := MaxPoolGrid(ReLUGrid(conv))
		if err != nil {
			t.Fatal(err)
		}
		wantConv, wantPool := layerOutputs(t, in, k)
		i := 0
		for _, row := range conv {
			for _, v := range row {
				if math.Abs(v-float64(wantConv[i])) > 1e-5 {
					t.Fatalf("%v grid: convolution value %d is %g; nn.Conv2D says %g", size, i, v, wantConv[i])
				}
				i++
			}
		}
		i = 0
		for _, row := range pooled {
			for _, v := range row {
				if math.Abs(v-float64(wantPool[i])) > 1e-5 {
					t.Fatalf("%v grid: pooled value %d is %g; nn.MaxPool2x2 says %g", size, i, v, wantPool[i])
				}
				i++
			}
		}
		if i != len(wantPool) || len(pooled) != size[0]/2 {
			t.Fatalf("%v grid: %d pooled values in %d rows; nn.MaxPool2x2 gives %d", size, i, len(pooled), len(wantPool))
		}
	}
}

func TestWorkedFigures(t *testing.T) {
	input := [][]float64{{0, 0, 1, 3}, {0, 0, 1, 3}, {0, 0, 1, 3}, {0, 0, 1, 3}}
	kernel := [][]float64{{-1, 0, 1}, {-1, 0, 1}, {-1, 0, 1}}
	f, err := Convolution("convolution", input, kernel, Cell{0, 0}, Cell{2, 1})
	if err != nil {
		t.Fatal(err)
	}
	txt := wantText(t, "the convolution figure", f, "kernel 3x3", "output 4x4", "input 4x4",
		// Row 2, column 1: input rows 1..3, columns 0..2 under the kernel.
		"output row 2, column 1:  0·(-1) + 0·0 + 1·1 + 0·(-1) + 0·0 + 1·1 + 0·(-1) + 0·0 + 1·1 = 3",
		"output row 0, column 0:  0·(-1) + 0·0 + 0·1 + 0·(-1) + 0·0 + 0·1 + 0·(-1) + 0·0 + 0·1 = 0")
	checkPNG(t, f)
	pool, err := MaxPooling("pool", [][]float64{{1, 5, 0}, {2, 3, 0}, {7, 7, 9}})
	if err != nil {
		t.Fatal(err)
	}
	txt = svgText(t, pool)
	if !strings.Contains(txt, "output 1x1") || !strings.Contains(txt, "dropped") {
		t.Errorf("the pooling figure lacks its output or the dropped row's note; text:\n%s", txt)
	}
	checkPNG(t, pool)
	for name, err := range map[string]error{
		"ragged input":     second(Convolution("", [][]float64{{1, 2}, {3}}, kernel)),
		"even kernel":      second(Convolution("", input, [][]float64{{1, 0}, {0, 1}})),
		"cell outside":     second(Convolution("", input, kernel, Cell{4, 0})),
		"NaN":              second(MaxPooling("", [][]float64{{1, math.NaN()}, {0, 0}})),
		"too small a pool": second(MaxPooling("", [][]float64{{1, 2}})),
		"empty":            second(MaxPooling("", nil)),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func second[T any](_ T, err error) error { return err }
