package serve

import (
	"context"
	"errors"
	"fmt"
	"image"
	"sync/atomic"
	"time"
)

// errOverloaded is returned when the queue of images waiting for the model is full.
var errOverloaded = errors.New("the server is overloaded: too many images are waiting for the model; retry later")

// errShuttingDown answers the images still queued when the server closes.
var errShuttingDown = errors.New("the server is shutting down; retry on another instance or later")

// job is one image waiting for the model.
type job struct {
	ctx  context.Context
	img  image.Image
	done chan jobResult // buffered: the batcher never blocks on a caller that left
}

// jobResult is a job's answer: its class probabilities, and the model that
// computed them.
type jobResult struct {
	probs []float64
	model *loaded
	err   error
}

// batcher groups the images of concurrent requests into model calls: it takes the
// images queued, and while the batch is not full and other requests are still being
// read (arriving > 0), waits up to maxWait for them. Under load the queue fills while
// the model computes, so batches grow with the load, and a lone request never waits.
type batcher struct {
	queue    chan *job
	maxBatch int
	maxWait  time.Duration
	arriving atomic.Int64 // prediction requests being read and decoded
	acquire  func() *loaded
	release  func(*loaded)
	observe  func(n int, took time.Duration, probs [][]float64, l *loaded)
	stopped  <-chan struct{} // closed by Server.Close
}

// submit queues imgs and waits for their results, in order. It fails with
// errOverloaded when the queue is full, with errShuttingDown once the server is
// closed, and with ctx's error when ctx ends first.
func (b *batcher) submit(ctx context.Context, imgs []image.Image) ([]jobResult, error) {
	if len(b.queue)+len(imgs) > cap(b.queue) {
		return nil, errOverloaded // refused whole rather than half queued
	}
	jobs := make([]*job, len(imgs))
	for i, img := range imgs {
		jobs[i] = &job{ctx: ctx, img: img, done: make(chan jobResult, 1)}
		select {
		case <-b.stopped:
			return nil, errShuttingDown
		default:
		}
		select {
		case b.queue <- jobs[i]:
		default:
			return nil, errOverloaded
		}
	}
	out := make([]jobResult, len(imgs))
	for i, j := range jobs {
		select {
		case r := <-j.done:
			out[i] = r
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-b.stopped:
			return nil, errShuttingDown
		}
	}
	return out, nil
}

// run computes batches until the server closes (b.stopped).
//
// A batch that is not a power of two is cut down to the largest power of two it
// holds, and the rest starts the next batch: the model pads a batch to a power of
// two, so 17 images cost as much as 32, while 16 now and 1 with the next batch cost
// 16 and a share of the next call.
func (b *batcher) run() {
	batch := make([]*job, 0, b.maxBatch)
	var carry []*job
	imgs := make([]image.Image, 0, b.maxBatch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		batch = append(batch[:0], carry...)
		carry = carry[:0]
		if len(batch) == 0 {
			select {
			case j := <-b.queue:
				batch = append(batch, j)
			case <-b.stopped:
				return
			}
		}
		deadline := time.Now().Add(b.maxWait)
	fill:
		for len(batch) < b.maxBatch {
			select {
			case j := <-b.queue:
				batch = append(batch, j)
				continue
			default:
			}
			wait := time.Until(deadline)
			if b.arriving.Load() == 0 || wait <= 0 {
				break
			}
			timer.Reset(wait)
			select {
			case j := <-b.queue:
				batch = append(batch, j)
			case <-timer.C:
				break fill
			case <-b.stopped:
				// Finish the batch taken: its callers are waiting.
				break fill
			}
			timer.Stop()
		}
		if p := powerOfTwoBelow(len(batch)); p < len(batch) {
			carry = append(carry, batch[p:]...)
			batch = batch[:p]
		}
		imgs = imgs[:0]
		live := batch[:0]
		for _, j := range batch {
			if j.ctx.Err() != nil {
				continue // its caller has gone
			}
			live = append(live, j)
			imgs = append(imgs, j.img)
		}
		if len(live) == 0 {
			continue
		}
		b.compute(live, imgs)
	}
}

// powerOfTwoBelow returns the largest power of two <= n (n >= 1).
func powerOfTwoBelow(n int) int {
	p := 1
	for p*2 <= n {
		p *= 2
	}
	return p
}

// compute runs one batch on the current model and answers its jobs.
func (b *batcher) compute(batch []*job, imgs []image.Image) {
	l := b.acquire()
	if l == nil {
		for _, j := range batch {
			j.done <- jobResult{err: errShuttingDown}
		}
		return
	}
	defer b.release(l)
	start := time.Now()
	probs, err := l.model.predict(imgs)
	took := time.Since(start)
	if err == nil && len(probs) != len(batch) {
		err = fmt.Errorf("the model answered %d predictions for %d images", len(probs), len(batch))
	}
	if err != nil {
		err = fmt.Errorf("model %s: %w", l.name, err)
		for _, j := range batch {
			j.done <- jobResult{model: l, err: err}
		}
		return
	}
	if b.observe != nil {
		b.observe(len(imgs), took, probs, l)
	}
	for i, j := range batch {
		j.done <- jobResult{probs: probs[i], model: l}
	}
	clear(imgs) // no references to the images past their requests
}
