// Package api holds the JSON types of the model server's HTTP API (lib/serve): what
// the server answers and what a client (lib/serve/client) reads. They belong to the
// API, not to the training code, so a change in lib/train cannot change the wire
// format.
package api

import (
	"fmt"
	"time"
)

// RequestIDHeader carries a request's id: the server takes the client's when it is
// usable (up to 128 letters, digits and -_.:), else makes one; it echoes it in the
// answer and writes it in the request's log lines.
const RequestIDHeader = "X-Request-Id"

// Prediction is one class's probability for an image.
type Prediction struct {
	Class       string  `json:"class"`
	Index       int     `json:"index"` // the class's label
	Probability float64 `json:"probability"`
}

// String is "Sneaker 93.1%".
func (p Prediction) String() string { return fmt.Sprintf("%s %.1f%%", p.Class, 100*p.Probability) }

// PredictResponse is the answer of POST /v1/predict.
type PredictResponse struct {
	// Model is the checkpoint that computed the answer, e.g. "epoch-0010" (the first
	// image's, in the rare case of a newer checkpoint swapped in between the images
	// of one request).
	Model string `json:"model"`
	// Predictions are the first image's classes, most probable first (the only
	// image's, for a request of one image).
	Predictions []Prediction `json:"predictions"`
	// Results has one entry per image, in the order they were sent.
	Results []Result `json:"results"`
}

// Result is one image's classes.
type Result struct {
	// Name is the file name of a multipart upload ("" for an image sent as the body).
	Name        string       `json:"name"`
	Predictions []Prediction `json:"predictions"`
}

// ExplainResponse is the answer of POST /v1/explain.
type ExplainResponse struct {
	Model       string       `json:"model"`
	Predictions []Prediction `json:"predictions"`
	// Input is the image as the model sees it (resized to its input shape, gray or
	// RGB), a PNG data URL.
	Input string `json:"input"`
	// Saliency is the gradient saliency map of the predicted class over Input (hot:
	// the pixels that move the class's score most), a PNG data URL.
	Saliency string `json:"saliency"`
	// SaliencyClass is the class the map explains: the most probable one.
	SaliencyClass string `json:"saliency_class"`
}

// Shape is the model's input: channels (1 gray, 3 RGB), height and width.
type Shape struct {
	Channels int `json:"channels"`
	Height   int `json:"height"`
	Width    int `json:"width"`
}

// String is "CxHxW", e.g. "1x28x28".
func (s Shape) String() string { return fmt.Sprintf("%dx%dx%d", s.Channels, s.Height, s.Width) }

// Epoch is one epoch of the served model's training.
type Epoch struct {
	Epoch         int     `json:"epoch"` // 1-based
	TrainLoss     float64 `json:"train_loss"`
	TrainAccuracy float64 `json:"train_accuracy"`
	EvalLoss      float64 `json:"eval_loss"`
	EvalAccuracy  float64 `json:"eval_accuracy"`
	EvalSet       string  `json:"eval_set"` // e.g. "fashion-mnist/validation"
	LR            float64 `json:"lr"`
	// TrainImagesPerSecond is the epoch's training throughput (evaluation excluded).
	TrainImagesPerSecond float64 `json:"train_images_per_second"`
	Seconds              float64 `json:"seconds"`
}

// ModelResponse is the answer of GET /v1/model.
type ModelResponse struct {
	Checkpoint  string    `json:"checkpoint"` // the epoch folder's name, e.g. "epoch-0010"
	Path        string    `json:"path"`       // the epoch folder
	Classes     []string  `json:"classes"`
	Shape       Shape     `json:"shape"`
	Epochs      int       `json:"epochs"`
	History     []Epoch   `json:"history"`
	LoadedAt    time.Time `json:"loaded_at"`
	LoadSeconds float64   `json:"load_seconds"`
	MaxBatch    int       `json:"max_batch"`
	MaxFiles    int       `json:"max_files"`
	MaxBodySize int64     `json:"max_body_bytes"`
	MaxPixels   int       `json:"max_pixels"`
	MaxMemory   int64     `json:"max_memory_bytes"`
}

// Error is every answer that is not a success.
type Error struct {
	Error     string `json:"error"`
	RequestID string `json:"request_id,omitempty"`
}
