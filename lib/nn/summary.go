package nn

import (
	"fmt"
	"strings"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gopherdl/gopherdl/lib/data"
)

// Layer is one row of a Summary.
type Layer struct {
	Name   string `json:"name"`   // scope of the layer and its kind, e.g. "/conv1 conv2d"
	Output []int  `json:"output"` // output shape, batch axis first
	Params int    `json:"params"` // trainable parameters the layer created
}

// Summary lists a model's layers with their output shapes and parameter counts,
// as torchinfo or Keras' model.summary() do.
type Summary struct {
	Input  data.Shape // the image shape it was built for
	Layers []Layer    // in the order the model applies them
	Total  int        // trainable parameters of the whole model
}

// String renders the summary as a table.
func (s Summary) String() string {
	var b strings.Builder
	row := func(name, shape, params string) {
		b.WriteString(strings.TrimRight(fmt.Sprintf("%-22s %-20s %10s", name, shape, params), " ") + "\n")
	}
	row("Layer", "Output [B,H,W,C]", "Params")
	row("input "+s.Input.String(), fmtShape([]int{1, s.Input.Height, s.Input.Width, s.Input.Channels}), "")
	for _, l := range s.Layers {
		p := ""
		if l.Params > 0 {
			p = thousands(l.Params)
		}
		row(l.Name, fmtShape(l.Output), p)
	}
	fmt.Fprintf(&b, "Total trainable parameters: %s\n", thousands(s.Total))
	return b.String()
}

func fmtShape(d []int) string {
	parts := make([]string, len(d))
	for i, v := range d {
		parts[i] = fmt.Sprint(v)
	}
	if len(parts) > 0 {
		parts[0] = "B"
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// thousands formats n with commas between groups of three digits: 545,098.
func thousands(n int) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// record notes a layer's output while LayerOutputs or Summarize builds a graph;
// otherwise it only returns x.
func record(x *graph.Node, kind string, scope ...*model.Scope) *graph.Node {
	noteLayer(x, kind, scope)
	return x
}

// summaryBackend builds the summaries' graphs: shapes and parameter counts are the
// same on every backend, and the pure-Go one is always there.
var summaryBackend = sync.OnceValues(func() (compute.Backend, error) { return gobackend.New("") })

// Summarize builds fn's graph for one image of the given shape and returns its
// layer table, from the shapes GoMLX infers while building it: nothing is run, and
// no weight is initialised. It uses a fresh store (the caller's model is not
// touched) and GoMLX's pure-Go backend, whatever backend the model trains on.
func Summarize(fn ModelFn, shape data.Shape) (Summary, error) {
	if err := shape.Validate(); err != nil {
		return Summary{}, fmt.Errorf("nn.Summarize: %w", err)
	}
	backend, err := summaryBackend()
	if err != nil {
		return Summary{}, fmt.Errorf("nn.Summarize: %w", err)
	}
	store := model.NewStore()
	var list []noted
	exec, err := model.NewExec(backend, store, func(scope *model.Scope, x *graph.Node) *graph.Node {
		g := x.Graph()
		g.AttachState(layerOutputsKey{}, &list)
		defer g.AttachState(layerOutputsKey{}, nil)
		return fn(scope, x)
	})
	if err != nil {
		return Summary{}, fmt.Errorf("nn.Summarize: %w", err)
	}
	defer exec.Finalize()
	if _, err := exec.Compile(shapes.Make(dtypes.Float32, 1, shape.Height, shape.Width, shape.Channels)); err != nil {
		return Summary{}, fmt.Errorf("nn.Summarize: building the model for input %s: %w", shape, err)
	}
	s := Summary{Input: shape}
	for _, n := range list {
		l := Layer{Name: n.kind, Output: n.node.Shape().Dimensions}
		if n.scope != "" {
			l.Name = n.scope + " " + n.kind
			for v := range store.IterVariables() {
				if v.Trainable && (v.Scope() == n.scope || strings.HasPrefix(v.Scope(), n.scope+"/")) {
					l.Params += v.Shape().Size()
				}
			}
		}
		s.Layers = append(s.Layers, l)
	}
	for v := range store.IterVariables() {
		if v.Trainable {
			s.Total += v.Shape().Size()
		}
	}
	return s, nil
}
