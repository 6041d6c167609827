package train

import (
	"strings"
	"sync"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/optimizer"
)

// execs holds a model's inference graphs. GoMLX's executables run calls at the same
// time, but the first call of an input shape builds and compiles a graph, which
// reads (on a new model, creates and initialises) the store's variables, and GoMLX's
// store is not safe for that from two goroutines: first calls take turns under
// first, while calls of shapes already built run on.
type execs struct {
	mu       sync.Mutex  // guards the fields below (and the model's Backend choice)
	first    sync.Mutex  // held by a first call
	infer    *model.Exec // images -> log-probabilities
	saliency *model.Exec // images -> saliency maps, predicted classes, log-probabilities
	grads    *model.Exec // images, labels -> loss, gradients (Model.Gradients)
	// gradNames are the paths of the variables whose gradients grads returns.
	gradNames *[]string
	ran       map[ranKey]bool
}

type ranKey struct {
	exec  *model.Exec
	shape string
}

// run calls exec on x.
func (e *execs) run(exec *model.Exec, x *tensors.Tensor) ([]*tensors.Tensor, error) {
	key := ranKey{exec, x.Shape().String()}
	e.mu.Lock()
	built := e.ran[key]
	e.mu.Unlock()
	if built {
		return exec.Call(x)
	}
	e.first.Lock()
	defer e.first.Unlock()
	out, err := exec.Call(x)
	if err == nil {
		e.mu.Lock()
		if e.ran == nil {
			e.ran = map[ranKey]bool{}
		}
		e.ran[key] = true
		e.mu.Unlock()
	}
	return out, err
}

// close releases the compiled graphs.
func (e *execs) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, x := range []*model.Exec{e.infer, e.saliency, e.grads} {
		if x != nil {
			x.Finalize()
		}
	}
	e.infer, e.saliency, e.grads, e.ran = nil, nil, nil, nil
}

// inferExec returns the graph of the log-probabilities, made on first use.
func (m *Model) inferExec() (*model.Exec, error) {
	m.execs.mu.Lock()
	defer m.execs.mu.Unlock()
	if m.execs.infer == nil {
		exec, err := model.NewExec(m.Backend.Compute, m.store, func(scope *model.Scope, images *graph.Node) *graph.Node {
			weightsAsParameters(m.store, images.Graph())
			return graph.LogSoftmax(m.fn(scope, images))
		})
		if err != nil {
			return nil, err
		}
		m.execs.infer = exec
	}
	return m.execs.infer, nil
}

// saliencyExec returns the graph of the saliency maps (the absolute gradient of the
// most probable class's logit, the largest over channels), the predicted classes and
// the log-probabilities: one forward pass for all three. Made on first use.
func (m *Model) saliencyExec() (*model.Exec, error) {
	m.execs.mu.Lock()
	defer m.execs.mu.Unlock()
	if m.execs.saliency == nil {
		exec, err := model.NewExec(m.Backend.Compute, m.store, func(scope *model.Scope, images *graph.Node) (*graph.Node, *graph.Node, *graph.Node) {
			weightsAsParameters(m.store, images.Graph())
			logits := m.fn(scope, images)
			score := graph.ReduceAllSum(graph.ReduceMax(logits, -1))
			grad := graph.Gradient(score, images)[0]
			return graph.ReduceMax(graph.Abs(grad), -1), graph.ArgMax(logits, -1, dtypes.Int32), graph.LogSoftmax(logits)
		})
		if err != nil {
			return nil, err
		}
		m.execs.saliency = exec
	}
	return m.execs.saliency, nil
}

// weightsAsParameters makes every model variable that already has a value an input
// (a parameter) of g, read afresh at each call, rather than a constant frozen at
// compilation. Graphs for evaluation, prediction and saliency call it first.
//
// Why: a backend may prefer constants for variables (GoMLX's pure-Go backend does,
// compute.Capabilities.PreferConstantsForVariables), and GoMLX then embeds each
// variable's current value in every graph not marked as training: a compiled
// evaluation graph would keep the weights it first saw. GoMLX decides between
// parameter and constant when a graph first reads a variable, so each one is read
// here with g marked as training for that moment only; the model itself then runs in
// inference mode (no dropout, batch-norm statistics frozen), and the graph is reused
// after every training step (TestEvaluationSeesCurrentWeights).
func weightsAsParameters(store *model.Store, g *graph.Graph) {
	wasTraining := store.IsTraining(g)
	store.SetTraining(g, true)
	for v := range store.IterVariables() {
		if strings.HasPrefix(v.Scope(), model.ScopeSeparator+optimizer.Scope) || !v.HasValue() {
			continue // optimiser state is not read by inference graphs
		}
		v.NodeValue(g)
	}
	store.SetTraining(g, wasTraining)
}
