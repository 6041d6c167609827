package serve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"

	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/data/formats"
)

// httpError is an answer other than 200: its status and what was wrong.
type httpError struct {
	code  int
	msg   string
	retry bool // a 503 worth retrying: answered with Retry-After
}

func (e *httpError) Error() string { return e.msg }

func errorf(code int, format string, args ...any) *httpError {
	return &httpError{code: code, msg: fmt.Sprintf(format, args...)}
}

// busy is the answer to a request that the server had no room for.
func busy(err error) *httpError {
	var mem errMemory
	if errors.As(err, &mem) {
		err = mem
	}
	return &httpError{code: http.StatusServiceUnavailable, msg: err.Error(), retry: true}
}

// upload is one image of a request, prepared for the model.
type upload struct {
	name string
	img  image.Image
}

// acceptedTypes is said in the 415 answer.
const acceptedTypes = "send an image (image/png, image/jpeg, image/gif, image/bmp, image/webp, or application/octet-stream) as the body, or multipart/form-data with one or more files named \"image\""

// readImages reads and decodes the images of a request: the body itself, or the
// "image" files of a multipart form. The body is read only once its size is held
// in the memory budget, and each image is decoded only once its decoded size, read
// from its header, is held too.
func (s *Server) readImages(w http.ResponseWriter, r *http.Request, maxFiles int) ([]upload, *httpError) {
	if r.ContentLength > s.cfg.MaxBodyBytes {
		return nil, errorf(http.StatusRequestEntityTooLarge, "request body of %d bytes is over the limit of %d bytes", r.ContentLength, s.cfg.MaxBodyBytes)
	}
	ct := r.Header.Get("Content-Type")
	mt, params := "application/octet-stream", map[string]string{}
	if ct != "" {
		var err error
		if mt, params, err = mime.ParseMediaType(ct); err != nil {
			return nil, errorf(http.StatusUnsupportedMediaType, "Content-Type %q: %v: %s", ct, err, acceptedTypes)
		}
	}
	multi := mt == "multipart/form-data"
	if !multi && !strings.HasPrefix(mt, "image/") && mt != "application/octet-stream" {
		return nil, errorf(http.StatusUnsupportedMediaType, "Content-Type %q is not accepted: %s", mt, acceptedTypes)
	}
	if multi && params["boundary"] == "" {
		return nil, errorf(http.StatusBadRequest, "multipart/form-data: no boundary in the Content-Type")
	}
	size := r.ContentLength
	if size < 0 { // not announced (chunked): up to the limit
		size = s.cfg.MaxBodyBytes
	}
	if size == 0 && !multi {
		return nil, errorf(http.StatusBadRequest, "empty body: %s", acceptedTypes)
	}
	release, err := s.mem.body(r.Context(), size)
	if err != nil {
		return nil, busy(err)
	}
	defer release()
	body := http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	buf := make([]byte, size)
	if multi {
		return s.readMultipart(r.Context(), multipart.NewReader(body, params["boundary"]), buf, maxFiles)
	}
	b, err := fill(body, buf)
	if err != nil {
		return nil, s.readError(err, "the body")
	}
	if len(b) == 0 {
		return nil, errorf(http.StatusBadRequest, "empty body: %s", acceptedTypes)
	}
	img, herr := s.decodeImage(r.Context(), b, "the body")
	if herr != nil {
		return nil, herr
	}
	return []upload{{name: "", img: img}}, nil
}

// fill reads r into buf until r ends, and returns what it read. A reader longer
// than buf is an error: buf was sized from the body's length or limit.
func fill(r io.Reader, buf []byte) ([]byte, error) {
	n, err := io.ReadFull(r, buf)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return buf[:n], nil
	case err != nil:
		return nil, err
	}
	var one [1]byte
	if k, err := r.Read(one[:]); k > 0 {
		return nil, fmt.Errorf("more than the %d bytes announced", len(buf))
	} else if err != nil && err != io.EOF {
		return nil, err
	}
	return buf, nil
}

// readMultipart reads the "image" parts of a form into arena, one after the other,
// decoding each before reading the next.
func (s *Server) readMultipart(ctx context.Context, mr *multipart.Reader, arena []byte, maxFiles int) ([]upload, *httpError) {
	var out []upload
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, s.readError(err, "the multipart form")
		}
		if part.FormName() != "image" {
			part.Close()
			return nil, errorf(http.StatusBadRequest, "unexpected form field %q: send each image as a file field named \"image\"", part.FormName())
		}
		if len(out) == maxFiles {
			part.Close()
			if maxFiles == 1 {
				return nil, errorf(http.StatusBadRequest, "too many images: this endpoint takes one")
			}
			return nil, errorf(http.StatusBadRequest, "too many images: at most %d per request", maxFiles)
		}
		name := part.FileName()
		if name == "" {
			name = "image " + strconv.Itoa(len(out)+1)
		}
		b, err := fill(part, arena)
		part.Close()
		if err != nil {
			return nil, s.readError(err, strconv.Quote(name))
		}
		if len(b) == 0 {
			return nil, errorf(http.StatusBadRequest, "image %q is empty", name)
		}
		arena = arena[len(b):]
		img, herr := s.decodeImage(ctx, b, strconv.Quote(name))
		if herr != nil {
			return nil, herr
		}
		out = append(out, upload{name: name, img: img})
	}
	if len(out) == 0 {
		return nil, errorf(http.StatusBadRequest, "no image: the multipart form needs one or more file fields named \"image\"")
	}
	return out, nil
}

// readError turns a body read error into 413 (over the limit) or 400.
func (s *Server) readError(err error, what string) *httpError {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return errorf(http.StatusRequestEntityTooLarge, "request body over the limit of %d bytes", tooBig.Limit)
	}
	return errorf(http.StatusBadRequest, "reading %s: %v", what, err)
}

// decodeImage decodes b, refusing from its header an image over the pixel limit
// (413), and anything that is not a supported image (415) or is corrupt (400). It
// returns the image resized to the model's input at once, so that a request of many
// large images holds one decoded image at a time, not all of them.
func (s *Server) decodeImage(ctx context.Context, b []byte, name string) (image.Image, *httpError) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err == nil && cfg.Width > 0 && cfg.Height > 0 && int64(cfg.Width)*int64(cfg.Height) <= int64(s.cfg.MaxPixels) {
		release, err := s.mem.decode(ctx, decodeCost(cfg, format))
		if err != nil {
			return nil, busy(err)
		}
		defer release()
	}
	// Otherwise DecodeImage refuses it from its header, and says why.
	img, err := formats.DecodeImage(b, name, s.cfg.MaxPixels)
	if err == nil {
		if img, err = prepare(img, s.model.Load().shape); err != nil {
			return nil, errorf(http.StatusBadRequest, "%s: %v", name, err)
		}
	}
	switch {
	case err == nil:
		return img, nil
	case errors.Is(err, formats.ErrTooLarge):
		return nil, errorf(http.StatusRequestEntityTooLarge, "%v", err)
	case errors.Is(err, image.ErrFormat):
		return nil, errorf(http.StatusUnsupportedMediaType, "%v", err)
	default:
		return nil, errorf(http.StatusBadRequest, "%v", err)
	}
}

// prepare resizes img to the model's input size, so that the batcher does not
// spend its time resizing large images; an image of that size already is kept.
func prepare(img image.Image, shape data.Shape) (image.Image, error) {
	if b := img.Bounds(); b.Dx() == shape.Width && b.Dy() == shape.Height {
		return img, nil
	}
	px, err := data.Pixels(img, shape)
	if err != nil {
		return nil, err
	}
	return data.PixelsImage(px, shape), nil
}

// parseTop reads ?top=k: how many classes to answer (0: all).
func (s *Server) parseTop(r *http.Request) (int, *httpError) {
	v := r.URL.Query().Get("top")
	if v == "" {
		return s.cfg.DefaultTop, nil
	}
	k, err := strconv.Atoi(v)
	if err != nil || k < 0 {
		return 0, errorf(http.StatusBadRequest, "top=%q: want a whole number >= 0 (how many classes to list; 0: all)", v)
	}
	return k, nil
}
