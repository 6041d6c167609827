package serve

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
)

// budget bounds the memory that requests hold at once, in bytes: the bodies being
// read and the images being decoded. A request holds its body's share while it
// decodes, and waits for the decode's share meanwhile; bodies together may only take
// what leaves room for the largest decode, so that such a wait always ends.
type budget struct {
	all     *semaphore.Weighted
	bodies  *semaphore.Weighted
	size    int64
	wait    time.Duration
	inUse   atomic.Int64
	refused atomic.Int64
}

// errMemory answers a request that did not get its share in time.
type errMemory struct{ size int64 }

func (e errMemory) Error() string {
	return fmt.Sprintf("the server is busy: the memory for requests (%d MiB) is in use; retry later", e.size>>20)
}

func newBudget(size, largestDecode int64, wait time.Duration) *budget {
	return &budget{all: semaphore.NewWeighted(size), bodies: semaphore.NewWeighted(size - largestDecode),
		size: size, wait: wait}
}

// body holds n bytes for a request body until release is called.
func (b *budget) body(ctx context.Context, n int64) (release func(), err error) {
	ctx, cancel := b.deadline(ctx)
	defer cancel()
	if err := b.bodies.Acquire(ctx, n); err != nil {
		return nil, b.refuse(err)
	}
	if err := b.all.Acquire(ctx, n); err != nil {
		b.bodies.Release(n)
		return nil, b.refuse(err)
	}
	b.inUse.Add(n)
	return func() {
		b.inUse.Add(-n)
		b.all.Release(n)
		b.bodies.Release(n)
	}, nil
}

// decode holds n bytes for decoding an image until release is called.
func (b *budget) decode(ctx context.Context, n int64) (release func(), err error) {
	ctx, cancel := b.deadline(ctx)
	defer cancel()
	if err := b.all.Acquire(ctx, n); err != nil {
		return nil, b.refuse(err)
	}
	b.inUse.Add(n)
	return func() {
		b.inUse.Add(-n)
		b.all.Release(n)
	}, nil
}

func (b *budget) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if b.wait <= 0 {
		// Acquire still succeeds at once when the bytes are free.
		ctx, cancel := context.WithCancel(ctx)
		cancel()
		return ctx, cancel
	}
	return context.WithTimeout(ctx, b.wait)
}

func (b *budget) refuse(err error) error {
	b.refused.Add(1)
	return errors.Join(errMemory{b.size}, err)
}

// maxBytesPerPixel bounds decodeCost's bytes per pixel: a progressive CMYK JPEG.
const maxBytesPerPixel = 24

// decoderBuffers covers a decoder's own buffers (rows, a zlib window, tables).
const decoderBuffers = 64 << 10

// decodeReserve is the most memory one decode within maxPixels may hold.
func decodeReserve(maxPixels int) int64 {
	return int64(maxPixels)*maxBytesPerPixel + decoderBuffers
}

// decodeCost bounds the memory that decoding an image of cfg allocates, from its
// header: its pixels, plus what its decoder keeps on the side.
func decodeCost(cfg image.Config, format string) int64 {
	bpp, components := pixelBytes(cfg.ColorModel)
	switch format {
	case "png":
		bpp *= 2 // an interlaced PNG's passes are decoded apart, then copied in
	case "jpeg":
		if components == 4 {
			bpp = 8 // YCbCr planes and a black plane, converted to CMYK
		}
		bpp += 4 * components // a progressive JPEG keeps every coefficient as an int32
	case "webp":
		bpp += 8 // a lossless WebP decodes into 32-bit pixels, then converts
	}
	px := int64(cfg.Width) * int64(cfg.Height)
	return px*min(bpp, maxBytesPerPixel) + decoderBuffers
}

// pixelBytes is the size of a pixel of the color model, and its components.
func pixelBytes(m color.Model) (bpp, components int64) {
	if _, ok := m.(color.Palette); ok {
		return 1, 1
	}
	switch m {
	case color.GrayModel, color.AlphaModel:
		return 1, 1
	case color.Gray16Model, color.Alpha16Model:
		return 2, 1
	case color.YCbCrModel:
		return 3, 3
	case color.RGBAModel, color.NRGBAModel, color.CMYKModel, color.NYCbCrAModel:
		return 4, 4
	}
	return 8, 4 // 16-bit RGBA, or a model not listed here
}
