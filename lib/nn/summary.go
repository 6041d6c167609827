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
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/progress"
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
			p = progress.Thousands(l.Params)
		}
		row(l.Name, fmtShape(l.Output), p)
	}
	fmt.Fprintf(&b, "Total trainable parameters: %s\n", progress.Thousands(s.Total))
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

type recRow struct {
	kind  string
	scope string
	shape []int
}

var (
	recMu     sync.Mutex
	recorders = map[*graph.Graph]*[]recRow{}
)

// record notes a layer's output while Summarize or LayerOutputs builds a graph;
// otherwise it only returns x.
func record(x *graph.Node, kind string, scope ...*model.Scope) *graph.Node {
	noteLayer(x, kind, scope)
	recMu.Lock()
	defer recMu.Unlock()
	rows, ok := recorders[x.Graph()]
	if !ok {
		return x
	}
	r := recRow{kind: kind, shape: x.Shape().Dimensions}
	if len(scope) > 0 {
		r.scope = scope[0].Scope()
	}
	*rows = append(*rows, r)
	return x
}

// summaryBackend computes summaries: shapes and parameter counts are the same on
// every backend, and the pure-Go one is always there.
var summaryBackend = sync.OnceValues(func() (compute.Backend, error) { return gobackend.New("") })

// Summarize builds fn for one image of the given shape and returns its layer table.
// It uses a fresh store (the caller's model is not touched) and GoMLX's pure-Go
// backend, whatever backend the model trains on.
func Summarize(fn ModelFn, shape data.Shape) (Summary, error) {
	if err := shape.Validate(); err != nil {
		return Summary{}, fmt.Errorf("nn.Summarize: %w", err)
	}
	backend, err := summaryBackend()
	if err != nil {
		return Summary{}, fmt.Errorf("nn.Summarize: %w", err)
	}
	store := model.NewStore()
	var rows []recRow
	exec, err := model.NewExec(backend, store, func(scope *model.Scope, x *graph.Node) *graph.Node {
		recMu.Lock()
		recorders[x.Graph()] = &rows
		recMu.Unlock()
		defer func() {
			recMu.Lock()
			delete(recorders, x.Graph())
			recMu.Unlock()
		}()
		return fn(scope, x)
	})
	if err != nil {
		return Summary{}, fmt.Errorf("nn.Summarize: %w", err)
	}
	in := tensors.FromShape(shapes.Make(dtypes.Float32, 1, shape.Height, shape.Width, shape.Channels))
	defer exec.Finalize()
	out, err := exec.Call(in)
	for _, t := range out {
		t.FinalizeAll()
	}
	if err != nil {
		return Summary{}, fmt.Errorf("nn.Summarize: building the model for input %s: %w", shape, err)
	}
	s := Summary{Input: shape}
	for _, r := range rows {
		l := Layer{Name: r.kind, Output: r.shape}
		if r.scope != "" {
			l.Name = r.scope + " " + r.kind
			for v := range store.IterVariables() {
				if v.Trainable && (v.Scope() == r.scope || strings.HasPrefix(v.Scope(), r.scope+"/")) {
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
