package train

import (
	"os"

	"github.com/gopherdl/gopherdl/lib/data"
)

// QuickEnv is the environment variable that asks for quick runs, as the notebook
// tests do: with QuickEnv=1, every Fit trains at most 2 more epochs, on at most 1,000
// training images, and evaluates on at most 1,000 images (spread over the dataset,
// so every class keeps its share), and says so. Notebooks then read as written and
// still run in seconds in CI; their committed outputs come from full runs.
const QuickEnv = "GOPHERDL_QUICK"

const (
	quickEpochs = 2
	quickImages = 1000
)

func quick() bool { return os.Getenv(QuickEnv) == "1" }

// quickData returns at most quickImages images of d, evenly spaced.
func quickData(d *data.Dataset) *data.Dataset {
	n := d.Len()
	if n <= quickImages {
		return d
	}
	idx := make([]int, quickImages)
	for i := range idx {
		idx[i] = i * n / quickImages
	}
	return d.Subset(d.Name, idx)
}
