package plot

import (
	"image/color"
	"math"
	"strings"
	"testing"

	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/data/embedded"
	"github.com/gopherdl/gopherdl/lib/nn"
	"github.com/gopherdl/gopherdl/lib/train"
)

func TestArchitecture(t *testing.T) {
	s, err := nn.Summarize(nn.Net(10), data.Shape{Channels: 1, Height: 28, Width: 28})
	if err != nil {
		t.Fatal(err)
	}
	f, err := Architecture("Net", s)
	if err != nil {
		t.Fatal(err)
	}
	txt := wantText(t, "the architecture", f, "input image", "[1, 28, 28]", "conv1: Conv2d(1 → 32, 3x3, padding 1)", "[32, 28, 28]", "320",
		"conv2: Conv2d(32 → 64, 3x3, padding 1)", "18,496", "MaxPool2d(2, 2)", "[64, 7, 7]", "Flatten: 64·7·7 = 3136 values", "[3136]",
		"fc1: Linear(3136 → 128)", "401,536", "fc2: Linear(128 → 10)", "1,290",
		"421,642 trainable parameters; fc1 holds 95.2 % of them")
	if n := strings.Count(txt, "ReLU"); n != 3 {
		t.Errorf("%d ReLU boxes, want 3", n)
	}
	checkPNG(t, f)
	// On RGB 32x32 images, the same function: the shapes and counts follow.
	s, err = nn.Summarize(nn.MLP(10, 256), data.Shape{Channels: 3, Height: 32, Width: 32})
	if err != nil {
		t.Fatal(err)
	}
	wantText(t, "the MLP's architecture", Must(Architecture("MLP", s)), "[3, 32, 32]", "Flatten: 3·32·32 = 3072 values", "fc1: Linear(3072 → 256)", "786,688", "789,258 trainable parameters")
	if _, err := Architecture("empty", nn.Summary{}); err == nil {
		t.Error("an empty summary: no error")
	}
}

// wantText returns the text of f, failing the test for each of wants it lacks.
func wantText(t *testing.T, what string, f *Figure, wants ...string) string {
	t.Helper()
	txt := svgText(t, f)
	for _, w := range wants {
		if !strings.Contains(txt, w) {
			t.Errorf("%s lacks %q; text:\n%s", what, w, txt)
		}
	}
	return txt
}

func TestValueImage(t *testing.T) {
	// 2 rows, 3 columns, row-major: the largest value at the top right.
	img := valueImage([]float32{0, 0.5, 1, 0, 0, 0}, 2, 3, 2, grayLevel)
	if b := img.Bounds(); b.Dx() != 6 || b.Dy() != 4 {
		t.Fatalf("image %v, want 6x4 (enlarged twice)", b)
	}
	at := func(x, y int) uint8 { return color.GrayModel.Convert(img.At(x, y)).(color.Gray).Y }
	if at(5, 0) != 255 || at(4, 1) != 255 || at(2, 0) != 128 || at(0, 0) != 0 || at(5, 3) != 0 {
		t.Errorf("pixels: top right %d, top middle %d, top left %d, bottom right %d", at(5, 0), at(2, 0), at(0, 0), at(5, 3))
	}
	if r, _, b, _ := diverging(-1).RGBA(); b <= r {
		t.Error("a negative value is not blue")
	}
	if r, _, b, _ := diverging(1).RGBA(); r <= b {
		t.Error("a positive value is not vermillion")
	}
	if c := color.GrayModel.Convert(diverging(0)).(color.Gray).Y; c != 255 {
		t.Errorf("0 is %d, want white", c)
	}
}

func TestFiltersAndFeatureMaps(t *testing.T) {
	// conv1 of a 1-channel model: 3x3x1x4, filter 2 the largest.
	w := train.Values{Name: "/conv1/conv/weights", Shape: []int{3, 3, 1, 4}, Data: make([]float32, 36)}
	for i := range w.Data {
		w.Data[i] = float32(i%4) * 0.1 * float32(1-2*(i/4%2))
	}
	w.Data[4*4+2] = -0.75 // the centre of filter 2
	f, err := Filters("filters", w, 0)
	if err != nil {
		t.Fatal(err)
	}
	wantText(t, "the filters figure", f, "filter 0", "filter 3", "weight", "-0.75", "0.75")
	checkPNG(t, f)
	rgb := train.Values{Name: "rgb", Shape: []int{3, 3, 3, 2}, Data: make([]float32, 54)}
	for i := range rgb.Data {
		rgb.Data[i] = float32(i)
	}
	if _, err := Filters("rgb", rgb, 0); err != nil {
		t.Errorf("RGB filters: %v", err)
	}
	conv2 := train.Values{Name: "/conv2/conv/weights", Shape: []int{3, 3, 32, 64}, Data: make([]float32, 3*3*32*64)}
	if _, err := Filters("conv2", conv2, 0); err == nil || !strings.Contains(err.Error(), "32 input channels") {
		t.Errorf("conv2's filters: %v; want an error about its 32 input channels", err)
	}

	// A [4, 4, 3] output: channel 0 from 0 to 1.5, channel 1 all 0, channel 2 constant 0.25.
	a := train.Values{Name: "conv1/relu", Shape: []int{4, 4, 3}, Data: make([]float32, 48)}
	for p := range 16 {
		a.Data[p*3] = float32(p) * 0.1
		a.Data[p*3+2] = 0.25
	}
	_, testDS := embedded.MustLoad()
	fm, err := FeatureMaps("maps", testDS.ToImage(0), a, 0)
	if err != nil {
		t.Fatal(err)
	}
	wantText(t, "the feature maps", fm, "the image", "0: 1.5", "1: 0", "2: 0.25", "3 channels of 4x4, 1 of them 0 everywhere", "black 0")
	checkPNG(t, fm)
	a.Data[5] = -2
	if txt := svgText(t, Must(FeatureMaps("signed", nil, a, 2))); !strings.Contains(txt, "blue negative") || !strings.Contains(txt, "2: 2") {
		t.Errorf("a signed layer's maps: text\n%s", txt)
	}
	for name, v := range map[string]train.Values{
		"flat":  {Name: "fc1", Shape: []int{128}, Data: make([]float32, 128)},
		"short": {Name: "x", Shape: []int{4, 4, 3}, Data: make([]float32, 47)},
		"NaN":   {Name: "x", Shape: []int{1, 1, 1}, Data: []float32{float32(math.NaN())}},
	} {
		if _, err := FeatureMaps(name, nil, v, 0); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
