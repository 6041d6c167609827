package nn

import (
	"fmt"
	"strings"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
)

// LayerOutput is the output of one layer of a model, in the graph being built: what
// PyTorch's forward hooks hand over.
type LayerOutput struct {
	// Name is the layer's name, as Summary.Names gives it: "conv1", "conv1/relu".
	Name string
	// Node is the layer's output, batch axis first.
	Node *Node
}

// layerOutputsKey keys the graph state that collects layer outputs while
// LayerOutputs builds a model.
type layerOutputsKey struct{}

// noted is one layer output noted by record.
type noted struct {
	kind, scope string
	node        *graph.Node
}

// noteLayer appends a layer's output to its graph's list, when LayerOutputs is
// building that graph.
func noteLayer(x *graph.Node, kind string, scope []*model.Scope) {
	list, _ := x.Graph().State(layerOutputsKey{}).(*[]noted)
	if list == nil {
		return
	}
	n := noted{kind: kind, node: x}
	if len(scope) > 0 {
		n.scope = scope[0].Scope()
	}
	*list = append(*list, n)
}

// LayerOutputs builds fn on images in scope, as any graph of the model would, and
// returns its logits and the output of every layer it applied, in order, named as
// Summary.Names names them. A graph can return those nodes to see inside the model
// (train.Model.Activations does); nodes nobody returns cost nothing.
func LayerOutputs(scope *Scope, images *Node, fn ModelFn) (logits *Node, layers []LayerOutput) {
	g := images.Graph()
	var list []noted
	g.AttachState(layerOutputsKey{}, &list)
	defer g.AttachState(layerOutputsKey{}, nil)
	logits = fn(scope, images)
	scopes, kinds := make([]string, len(list)), make([]string, len(list))
	for i, n := range list {
		scopes[i], kinds[i] = n.scope, n.kind
	}
	for i, name := range layerNames(scopes, kinds) {
		layers = append(layers, LayerOutput{Name: name, Node: list[i].node})
	}
	return logits, layers
}

// Names returns a name for each of the summary's layers, as train.Model.Activations
// takes them: a layer with its own scope is named by the scope ("conv1", "fc2"); a
// layer without one (ReLU, max-pool, flatten) by the last scoped layer before it and
// its kind ("conv1/relu", "conv1/maxpool2x2"), or by its kind alone before any; a
// name that would repeat gets "#2", "#3".
func (s Summary) Names() []string {
	scopes, kinds := make([]string, len(s.Layers)), make([]string, len(s.Layers))
	for i, l := range s.Layers {
		// Layer.Name is "/scope kind" or "kind".
		if strings.HasPrefix(l.Name, "/") {
			if cut := strings.LastIndexByte(l.Name, ' '); cut > 0 {
				scopes[i], kinds[i] = l.Name[:cut], l.Name[cut+1:]
				continue
			}
		}
		kinds[i] = l.Name
	}
	return layerNames(scopes, kinds)
}

// layerNames names layers from their scopes ("" when none) and kinds, as
// Summary.Names documents.
func layerNames(scopes, kinds []string) []string {
	names := make([]string, len(kinds))
	seen := map[string]int{}
	last := ""
	for i, kind := range kinds {
		name := kind
		switch {
		case scopes[i] != "":
			last = strings.TrimPrefix(scopes[i], model.ScopeSeparator)
			name = last
		case last != "":
			name = last + "/" + kind
		}
		seen[name]++
		if k := seen[name]; k > 1 {
			name = fmt.Sprintf("%s#%d", name, k)
		}
		names[i] = name
	}
	return names
}
