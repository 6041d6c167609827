// Package plot draws the walkthrough's figures with gonum/plot: training curves,
// the loss by step, a confusion-matrix heat map, per-class precision/recall/F1 bars,
// image grids with true and predicted labels, augmented images, saliency heat maps,
// and the inside of a network: a worked convolution and max-pool with their numbers,
// the architecture with its shapes, the first layer's filters and feature maps.
// Figures are static SVG or PNG, with no JavaScript: in a GoNB notebook Display
// shows them inline and they are kept in the saved notebook; elsewhere Save writes
// them to files.
package plot

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/janpfeifer/gonb/gonbui"
	"github.com/janpfeifer/gonb/gonbui/protocol"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/gopherdl/gopherdl/lib/atomicfile"
	"github.com/gopherdl/gopherdl/lib/metrics"
)

// Figure is a drawing of a given size.
type Figure struct {
	Width, Height vg.Length
	draw          func(c draw.Canvas)
}

// render calls the drawing code, turning a panic of the plotting library into an error.
func (f *Figure) render(c draw.Canvas) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok {
				err = fmt.Errorf("drawing the figure: %w", e)
			} else {
				err = fmt.Errorf("drawing the figure: %v", r)
			}
		}
	}()
	f.draw(c)
	return nil
}

// SVG renders the figure as SVG.
func (f *Figure) SVG() ([]byte, error) {
	c := vgsvg.New(f.Width, f.Height)
	if err := f.render(draw.New(c)); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return nil, fmt.Errorf("rendering SVG: %w", err)
	}
	return b.Bytes(), nil
}

// PNG renders the figure as PNG at the given dots per inch (96 when 0).
func (f *Figure) PNG(dpi int) ([]byte, error) {
	if dpi <= 0 {
		dpi = 96
	}
	c := vgimg.NewWith(vgimg.UseWH(f.Width, f.Height), vgimg.UseDPI(dpi), vgimg.UseBackgroundColor(white))
	if err := f.render(draw.New(c)); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&b); err != nil {
		return nil, fmt.Errorf("rendering PNG: %w", err)
	}
	return b.Bytes(), nil
}

// Save writes the figure to path, as SVG or PNG by its ending, atomically.
func (f *Figure) Save(path string) error {
	var b []byte
	var err error
	switch strings.ToLower(filepath.Ext(path)) {
	case ".svg":
		b, err = f.SVG()
	case ".png":
		b, err = f.PNG(144)
	default:
		return fmt.Errorf("saving figure %s: want a .svg or .png file", path)
	}
	if err != nil {
		return fmt.Errorf("saving figure %s: %w", path, err)
	}
	return atomicfile.Write(path, func(w io.Writer) error { _, err := w.Write(b); return err })
}

// notebookDPI is the resolution of figures shown in notebooks: sharp, and about the
// width of a notebook column for the wide figures.
const notebookDPI = 110

// Display shows the figure inline in a GoNB notebook as a PNG image (kept in the
// saved notebook, shown by code hosts and nbconvert alike); outside a notebook it
// does nothing. It returns rendering errors.
func (f *Figure) Display() error {
	return f.send("")
}

// Update shows the figure in the notebook block named id, replacing what was there
// (used for curves that grow while training runs). Outside a notebook it does nothing.
func (f *Figure) Update(id string) error {
	return f.send(id)
}

func (f *Figure) send(id string) error {
	if !gonbui.IsNotebook {
		return nil
	}
	b, err := f.PNG(notebookDPI)
	if err != nil {
		return err
	}
	gonbui.SendData(&protocol.DisplayData{
		Data:      map[protocol.MIMEType]any{protocol.MIMEImagePNG: b, protocol.MIMETextPlain: "figure"},
		DisplayID: id,
	})
	// A cell often ends right after its figure: wait until GoNB has it, so the
	// saved notebook keeps it.
	gonbui.Sync()
	return nil
}

// MustDisplay is Display for notebooks: it panics on error.
func (f *Figure) MustDisplay() {
	if err := f.Display(); err != nil {
		panic(err)
	}
}

// LiveCurves returns a callback for train.Model.Fit that redraws the training
// curves in one notebook block after every epoch; the block keeps the last drawing
// in the saved notebook. Outside a notebook the callback does nothing.
func LiveCurves() func([]metrics.Epoch) {
	id := "gopherdl-curves-" + gonbui.UniqueID()
	return func(h []metrics.Epoch) {
		if !gonbui.IsNotebook {
			return
		}
		if f, err := TrainingCurves(h); err == nil {
			_ = f.Update(id)
		}
	}
}

// Must returns f, or panics with err: for notebooks, as in
// plot.Must(plot.ConfusionMatrix(report)).Display().
func Must(f *Figure, err error) *Figure {
	if err != nil {
		panic(err)
	}
	return f
}
