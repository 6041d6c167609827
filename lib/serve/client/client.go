// Package client talks to a model server (lib/serve, run by cmd/serve) from Go:
// predictions, explanations and the model served (Client), the server's Prometheus
// metrics (Metrics, read by lib/serve/scrape with Prometheus's own text parser), and a server run as a
// process of its own that outlives the program that started it (Start, Find): what
// a notebook cell needs, since each cell is a program of its own.
//
//	c := client.New("http://127.0.0.1:8080")
//	answer, err := c.PredictFiles(ctx, 3, "shoe.png", "trousers.jpg")
//	before, _ := c.Metrics(ctx)
//	...
//	after, _ := c.Metrics(ctx)
//	p99 := after.Since(before).Latency("/v1/predict").Quantile(0.99)
package client

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gopherdl/gopherdl/lib/serve/api"
	"github.com/gopherdl/gopherdl/lib/serve/scrape"
)

// Client calls one model server.
type Client struct {
	// URL is the server's base URL, e.g. "http://127.0.0.1:8080".
	URL string
	// HTTP makes the requests (nil: http.DefaultClient).
	HTTP *http.Client
}

// New returns a client of the server at url ("http://host:port").
func New(url string) *Client { return &Client{URL: strings.TrimRight(url, "/")} }

// Error is the server's answer when it is not a success: its status, its message
// and the request's id (which the server's log lines repeat).
type Error struct {
	Status    int
	Message   string
	RequestID string
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
	if e.RequestID != "" {
		msg += " (request " + e.RequestID + ")"
	}
	return msg
}

type requestIDKey struct{}

// WithRequestID makes the requests made with ctx carry id as their X-Request-Id:
// the server answers with it and writes it in its log lines.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// Image is an image file to send: its name (a multipart upload's file name; "" to
// send a lone image as the request body) and its bytes, in any format the server
// reads (PNG, JPEG, GIF, BMP, WebP).
type Image struct {
	Name string
	Data []byte
}

// PNG encodes img as an Image named name.
func PNG(name string, img image.Image) (Image, error) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return Image{}, fmt.Errorf("encoding %s as PNG: %w", name, err)
	}
	return Image{Name: name, Data: buf.Bytes()}, nil
}

// File reads the image file at path, named by its base name.
func File(path string) (Image, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Image{}, err
	}
	return Image{Name: filepath.Base(path), Data: b}, nil
}

// Predict asks the classes of images, the top most probable of each (0: all). One
// image without a name goes as the request's body, the others as a multipart form.
func (c *Client) Predict(ctx context.Context, top int, images ...Image) (*api.PredictResponse, error) {
	var out api.PredictResponse
	if err := c.post(ctx, "/v1/predict", top, images, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PredictFiles is Predict for image files, sent as a multipart form with their names.
func (c *Client) PredictFiles(ctx context.Context, top int, paths ...string) (*api.PredictResponse, error) {
	images := make([]Image, len(paths))
	for i, p := range paths {
		var err error
		if images[i], err = File(p); err != nil {
			return nil, err
		}
	}
	return c.Predict(ctx, top, images...)
}

// PredictEach sends each image as a request of its own (PNG, as its body), from
// clients at once, as independent users would. It returns the answers in order,
// nil where a request failed, and how many failed with the first error.
func (c *Client) PredictEach(ctx context.Context, top int, imgs []image.Image, clients int) ([]*api.PredictResponse, int, error) {
	out := make([]*api.PredictResponse, len(imgs))
	jobs := make(chan int)
	var mu sync.Mutex
	failed, first := 0, error(nil)
	var wg sync.WaitGroup
	for range max(clients, 1) {
		wg.Go(func() {
			for i := range jobs {
				body, err := PNG("", imgs[i])
				if err == nil {
					out[i], err = c.Predict(ctx, top, body)
				}
				if err != nil {
					mu.Lock()
					failed++
					if first == nil {
						first = fmt.Errorf("image %d: %w", i, err)
					}
					mu.Unlock()
				}
			}
		})
	}
	for i := range imgs {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return out, failed, first
}

// Explanation is the answer of /v1/explain with its images decoded.
type Explanation struct {
	Model       string
	Predictions []api.Prediction
	// Input is the image as the model sees it; Saliency the heat map of the most
	// probable class (SaliencyClass) over it.
	Input, Saliency image.Image
	SaliencyClass   string
}

// Explain asks for an image's top classes and the saliency map of the most probable
// one: what the server's page shows.
func (c *Client) Explain(ctx context.Context, top int, img Image) (*Explanation, error) {
	var res api.ExplainResponse
	if err := c.post(ctx, "/v1/explain", top, []Image{img}, &res); err != nil {
		return nil, err
	}
	ex := &Explanation{Model: res.Model, Predictions: res.Predictions, SaliencyClass: res.SaliencyClass}
	var err error
	if ex.Input, err = fromDataURL(res.Input); err != nil {
		return nil, fmt.Errorf("the explanation's input image: %w", err)
	}
	if ex.Saliency, err = fromDataURL(res.Saliency); err != nil {
		return nil, fmt.Errorf("the explanation's saliency map: %w", err)
	}
	return ex, nil
}

// fromDataURL decodes a "data:image/png;base64,..." URL.
func fromDataURL(url string) (image.Image, error) {
	b64, ok := strings.CutPrefix(url, "data:image/png;base64,")
	if !ok {
		return nil, fmt.Errorf("not a PNG data URL: %.30q", url)
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, err
	}
	return png.Decode(bytes.NewReader(b))
}

// Model asks which model the server serves: its checkpoint, classes, input shape,
// training history and limits.
func (c *Client) Model(ctx context.Context) (*api.ModelResponse, error) {
	var out api.ModelResponse
	if err := c.do(ctx, http.MethodGet, "/v1/model", "", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Ready returns nil when the server answers /readyz with 200: a model is loaded,
// and the server is not shutting down.
func (c *Client) Ready(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/readyz", "", nil, nil)
}

// Metrics reads the server's /metrics.
func (c *Client) Metrics(ctx context.Context) (*scrape.Metrics, error) {
	req, err := c.request(ctx, http.MethodGet, "/metrics", "", nil)
	if err != nil {
		return nil, err
	}
	res, err := c.httpClient().Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, answerError(res)
	}
	return scrape.Parse(res.Body, time.Now())
}

func (c *Client) post(ctx context.Context, route string, top int, images []Image, out any) error {
	if len(images) == 0 {
		return fmt.Errorf("%s: no image to send", route)
	}
	route += "?top=" + strconv.Itoa(top)
	if len(images) == 1 && images[0].Name == "" {
		ct := http.DetectContentType(images[0].Data)
		if !strings.HasPrefix(ct, "image/") {
			ct = "application/octet-stream" // the server tells what it is not
		}
		return c.do(ctx, http.MethodPost, route, ct, bytes.NewReader(images[0].Data), out)
	}
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for i, img := range images {
		name := img.Name
		if name == "" {
			name = fmt.Sprintf("image-%d", i+1)
		}
		part, err := w.CreateFormFile("image", name)
		if err != nil {
			return err
		}
		part.Write(img.Data)
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.do(ctx, http.MethodPost, route, w.FormDataContentType(), &body, out)
}

func (c *Client) request(ctx context.Context, method, route, contentType string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.URL+route, body)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if id, ok := ctx.Value(requestIDKey{}).(string); ok && id != "" {
		req.Header.Set(api.RequestIDHeader, id)
	}
	return req, nil
}

// do sends a request and decodes its JSON answer into out (when not nil).
func (c *Client) do(ctx context.Context, method, route, contentType string, body io.Reader, out any) error {
	req, err := c.request(ctx, method, route, contentType, body)
	if err != nil {
		return err
	}
	res, err := c.httpClient().Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return answerError(res)
	}
	if out == nil {
		_, err = io.Copy(io.Discard, res.Body)
		return err
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, route, err)
	}
	return nil
}

// answerError reads an error answer: the server's JSON, or its first bytes.
func answerError(res *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	e := &Error{Status: res.StatusCode, RequestID: res.Header.Get(api.RequestIDHeader)}
	var body api.Error
	if json.Unmarshal(b, &body) == nil && body.Error != "" {
		e.Message = body.Error
	} else {
		e.Message = strings.TrimSpace(string(b))
	}
	return e
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}
