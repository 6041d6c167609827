package serve

import (
	"errors"
	"fmt"
	"image"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/gopherdl/gopherdl/lib/data/formats"
)

// httpError is an answer other than 200: its status and what was wrong.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func errorf(code int, format string, args ...any) *httpError {
	return &httpError{code: code, msg: fmt.Sprintf(format, args...)}
}

// upload is one image of a request.
type upload struct {
	name string
	img  image.Image
}

// acceptedTypes is said in the 415 answer.
const acceptedTypes = "send an image (image/png, image/jpeg, image/gif, image/bmp, image/webp, or application/octet-stream) as the body, or multipart/form-data with one or more files named \"image\""

// readImages reads and decodes the images of a request: the body itself, or the
// "image" files of a multipart form. It enforces the body, file-count and pixel
// limits; each image's size is checked from its header before it is decoded.
func (s *Server) readImages(w http.ResponseWriter, r *http.Request, maxFiles int) ([]upload, *httpError) {
	if r.ContentLength > s.cfg.MaxBodyBytes {
		return nil, errorf(http.StatusRequestEntityTooLarge, "request body of %d bytes is over the limit of %d bytes", r.ContentLength, s.cfg.MaxBodyBytes)
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	ct := r.Header.Get("Content-Type")
	mt := "application/octet-stream"
	if ct != "" {
		var err error
		if mt, _, err = mime.ParseMediaType(ct); err != nil {
			return nil, errorf(http.StatusUnsupportedMediaType, "Content-Type %q: %v: %s", ct, err, acceptedTypes)
		}
	}
	switch {
	case mt == "multipart/form-data":
		return s.readMultipart(r, maxFiles)
	case strings.HasPrefix(mt, "image/") || mt == "application/octet-stream":
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, s.readError(err, "the body")
		}
		if len(b) == 0 {
			return nil, errorf(http.StatusBadRequest, "empty body: %s", acceptedTypes)
		}
		img, herr := s.decodeImage(b, "the body")
		if herr != nil {
			return nil, herr
		}
		return []upload{{name: "", img: img}}, nil
	default:
		return nil, errorf(http.StatusUnsupportedMediaType, "Content-Type %q is not accepted: %s", mt, acceptedTypes)
	}
}

func (s *Server) readMultipart(r *http.Request, maxFiles int) ([]upload, *httpError) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "multipart/form-data: %v", err)
	}
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
		b, err := io.ReadAll(part)
		part.Close()
		if err != nil {
			return nil, s.readError(err, strconv.Quote(name))
		}
		if len(b) == 0 {
			return nil, errorf(http.StatusBadRequest, "image %q is empty", name)
		}
		img, herr := s.decodeImage(b, strconv.Quote(name))
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
func (s *Server) decodeImage(b []byte, name string) (image.Image, *httpError) {
	s.decode <- struct{}{}
	defer func() { <-s.decode }()
	img, err := formats.DecodeImage(b, name, s.cfg.MaxPixels)
	if err == nil {
		if img, err = prepare(img, s.model.Load().model.Shape); err != nil {
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
