package data

import (
	"fmt"
	"iter"
	"math"
	"math/bits"
	"math/rand/v2"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/train"
)

// Normalization maps a pixel byte v of channel c to (v/255 - Mean[c]) / Std[c], as
// torchvision's Normalize after ToTensor does.
type Normalization struct {
	Mean, Std []float32
}

// ComputeNormalization returns the per-channel mean and standard deviation of d's
// pixels in [0, 1]. Compute it on the training split only, and use it for every split.
func ComputeNormalization(d *Dataset) Normalization {
	sum := make([]float64, d.Channels)
	sq := make([]float64, d.Channels)
	for i, v := range d.Pixels {
		x := float64(v) / 255
		sum[i%d.Channels] += x
		sq[i%d.Channels] += x * x
	}
	n := float64(len(d.Pixels) / max(d.Channels, 1))
	norm := Normalization{Mean: make([]float32, d.Channels), Std: make([]float32, d.Channels)}
	for c := range d.Channels {
		mean := sum[c] / max(n, 1)
		std := math.Sqrt(max(sq[c]/max(n, 1)-mean*mean, 0))
		if std < 1e-6 {
			std = 1
		}
		norm.Mean[c], norm.Std[c] = float32(mean), float32(std)
	}
	return norm
}

// Augmentation holds the random transformations a Loader applies to training images.
type Augmentation struct {
	// CropPadding pads each image with this many zero pixels on every side and crops
	// it back at a random offset (torchvision's RandomCrop(size, padding)). 0: off.
	CropPadding int `json:"crop_padding"`
	// HorizontalFlip mirrors half of the images left-right (RandomHorizontalFlip).
	HorizontalFlip bool `json:"horizontal_flip"`
}

// Loader yields batches of a Dataset for GoMLX (the article's DataLoader): images as
// float32 [batch, height, width, channels], normalised, and labels as int32 [batch, 1].
// It implements GoMLX's train.Dataset: each Iter call is one epoch. Batch tensors are
// filled in place: there is no intermediate copy per step.
type Loader struct {
	Data      *Dataset
	BatchSize int
	// Shuffle reorders the images every epoch, from Seed and the epoch number, so a
	// run is repeatable.
	Shuffle bool
	Seed    uint64
	// DropLast leaves out the last, smaller batch.
	DropLast bool
	// PadLast fills a smaller last batch with blank images up to the next power of
	// two (at most BatchSize), so that a compiled model sees few batch sizes; Indices
	// lists the real images only. For evaluation and prediction, not training.
	PadLast bool
	// Norm normalises pixels; nil maps them to [0, 1] only.
	Norm *Normalization
	// Augment, when set, applies random transformations (use it for training only).
	Augment *Augmentation

	epoch uint64
	lut   [][256]float32
}

// NewLoader returns a loader over d with the given batch size and shuffling.
func NewLoader(d *Dataset, batchSize int, shuffle bool) *Loader {
	return &Loader{Data: d, BatchSize: batchSize, Shuffle: shuffle}
}

// Name implements train.Dataset.
func (l *Loader) Name() string { return l.Data.Name }

// NumBatches is the number of batches in one epoch.
func (l *Loader) NumBatches() int {
	n := l.Data.Len()
	if l.DropLast {
		return n / l.BatchSize
	}
	return (n + l.BatchSize - 1) / l.BatchSize
}

// SetEpoch sets the epoch whose shuffle order the next Iter uses (for resuming).
func (l *Loader) SetEpoch(epoch int) { l.epoch = uint64(epoch) }

// Order returns the order of the images in the next epoch.
func (l *Loader) Order() []int {
	order := make([]int, l.Data.Len())
	for i := range order {
		order[i] = i
	}
	if l.Shuffle {
		r := rand.New(rand.NewPCG(l.Seed, l.epoch))
		r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
	return order
}

// Iter implements train.Dataset: it yields one epoch of batches, then advances the
// epoch so the next call shuffles differently.
func (l *Loader) Iter() iter.Seq2[train.Batch, error] {
	return func(yield func(train.Batch, error) bool) {
		for b, err := range l.Batches() {
			if !yield(train.Batch{Inputs: []*tensors.Tensor{b.Images}, Labels: []*tensors.Tensor{b.Labels}}, err) {
				return
			}
		}
	}
}

// Batch is one batch with the dataset indices of its images.
type Batch struct {
	Images  *tensors.Tensor // float32 [n, height, width, channels]
	Labels  *tensors.Tensor // int32 [n, 1]
	Indices []int           // the images' indices in the Dataset (fewer than n after PadLast)
}

// Batches yields one epoch of batches with their indices, then advances the epoch.
func (l *Loader) Batches() iter.Seq2[Batch, error] {
	return func(yield func(Batch, error) bool) {
		d := l.Data
		if l.BatchSize <= 0 {
			yield(Batch{}, fmt.Errorf("loader %q: batch size %d: want > 0", d.Name, l.BatchSize))
			return
		}
		if err := l.prepare(); err != nil {
			yield(Batch{}, err)
			return
		}
		order := l.Order()
		r := rand.New(rand.NewPCG(l.Seed^0xa5a5, l.epoch))
		l.epoch++
		for start := 0; start < len(order); start += l.BatchSize {
			idx := order[start:min(start+l.BatchSize, len(order))]
			if len(idx) < l.BatchSize && l.DropLast {
				break
			}
			rows := len(idx)
			if l.PadLast && rows < l.BatchSize {
				rows = min(1<<bits.Len(uint(rows-1)), l.BatchSize)
			}
			if !yield(l.makeBatch(idx, rows, r), nil) {
				return
			}
		}
	}
}

func (l *Loader) prepare() error {
	d := l.Data
	if l.Norm != nil && (len(l.Norm.Mean) != d.Channels || len(l.Norm.Std) != d.Channels) {
		return fmt.Errorf("loader %q: normalisation has %d means and %d stds for %d channels",
			d.Name, len(l.Norm.Mean), len(l.Norm.Std), d.Channels)
	}
	l.lut = make([][256]float32, d.Channels)
	for c := range d.Channels {
		for v := range 256 {
			x := float32(v) / 255
			if l.Norm != nil {
				x = (x - l.Norm.Mean[c]) / l.Norm.Std[c]
			}
			l.lut[c][v] = x
		}
	}
	return nil
}

// makeBatch fills a batch of rows images (rows >= len(idx): the rest stay blank).
func (l *Loader) makeBatch(idx []int, rows int, r *rand.Rand) Batch {
	d := l.Data
	h, w, ch := d.Height, d.Width, d.Channels
	size := d.ImageSize()
	images := tensors.FromShape(shapes.Make(dtypes.Float32, rows, h, w, ch))
	labels := tensors.FromShape(shapes.Make(dtypes.Int32, rows, 1))
	tensors.MustMutableFlatData(images, func(flat []float32) {
		for bi, i := range idx {
			src, _ := d.Image(i)
			dst := flat[bi*size : (bi+1)*size]
			pad, flip := 0, false
			if l.Augment != nil {
				pad = l.Augment.CropPadding
				flip = l.Augment.HorizontalFlip && r.IntN(2) == 1
			}
			if pad == 0 && !flip {
				for p, v := range src {
					dst[p] = l.lut[p%ch][v]
				}
				continue
			}
			oy, ox := 0, 0
			if pad > 0 {
				oy, ox = r.IntN(2*pad+1)-pad, r.IntN(2*pad+1)-pad
			}
			for y := range h {
				sy := y + oy
				for x := range w {
					sx := x + ox
					if flip {
						sx = w - 1 - x + ox
					}
					for c := range ch {
						v := uint8(0)
						if sy >= 0 && sy < h && sx >= 0 && sx < w {
							v = src[(sy*w+sx)*ch+c]
						}
						dst[(y*w+x)*ch+c] = l.lut[c][v]
					}
				}
			}
		}
	})
	tensors.MustMutableFlatData(labels, func(flat []int32) {
		for bi, i := range idx {
			flat[bi] = d.Labels[i]
		}
	})
	return Batch{Images: images, Labels: labels, Indices: idx}
}
