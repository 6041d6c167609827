package plot

import (
	"strings"
	"testing"

	"github.com/gopherdl/gopherdl/lib/data/embedded"
)

// TestSaliencyCaptions checks that every image of the saliency figure names its
// true and its predicted class, right or wrong, and only the wrong ones in red.
func TestSaliencyCaptions(t *testing.T) {
	train, _ := embedded.MustLoad()
	idx := []int{0, 1}
	right, wrong := train.Labels[0], (train.Labels[1]+1)%10
	maps := [][]float32{make([]float32, 28*28), make([]float32, 28*28)}
	f, err := Saliency("Gradient saliency (true → predicted)", train, idx, maps, []int32{right, wrong})
	if err != nil {
		t.Fatal(err)
	}
	wantText(t, "the saliency figure", f,
		train.Classes[right]+"\n→ "+train.Classes[right]+"\n",
		train.Classes[train.Labels[1]]+"\n→ "+train.Classes[wrong]+"\n",
	)
	b, _ := f.SVG()
	if n := strings.Count(string(b), "stroke:#C80000"); n != 1 {
		t.Errorf("%d red frames, want 1 (the wrong prediction)", n)
	}
	txt := svgText(t, Must(Saliency("classes only", train, idx, maps, nil)))
	if strings.Contains(txt, "→") || !strings.Contains(txt, train.Classes[right]) {
		t.Errorf("without predictions: want the classes alone; text:\n%s", txt)
	}
}
