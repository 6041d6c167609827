package train

import (
	"fmt"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
	"github.com/gomlx/gomlx/ml/train/optimizer"
)

// sgd is stochastic gradient descent as PyTorch's torch.optim.SGD computes it:
//
//	g = grad + WeightDecay * w
//	v = Momentum * v + g        (when Momentum > 0)
//	w = w - lr * v              (or w - lr * g without momentum)
//
// The learning rate is GoMLX's learning-rate variable, which a Schedule sets before
// each epoch without recompiling. It implements GoMLX's optimizer.Interface; GoMLX's
// own SGD has neither momentum nor weight decay, and divides the rate by sqrt(step).
type sgd struct {
	LR          float64 // initial learning rate
	Momentum    float64 // 0: plain SGD
	WeightDecay float64 // L2 penalty, as PyTorch's weight_decay
}

const sgdScope = "sgd"

// UpdateGraph implements optimizer.Interface.
func (o *sgd) UpdateGraph(scope *model.Scope, g *graph.Graph, loss *graph.Node) {
	if !loss.Shape().IsScalar() {
		panic(fmt.Errorf("train.SGD: the loss must be a scalar, got %s", loss.Shape()))
	}
	grads := scope.BuildTrainableVariablesGradientsGraph(loss)
	var vars []*model.Variable
	for v := range scope.IterVariables() {
		if v.Trainable && v.InUseByGraph(g) {
			vars = append(vars, v)
		}
	}
	if len(vars) != len(grads) {
		panic(fmt.Errorf("train.SGD: %d gradients for %d trainable variables", len(grads), len(vars)))
	}
	lr := optimizer.LearningRateVar(scope, loss.DType(), o.LR).NodeValue(g)
	optimizer.IncrementGlobalStep(g, dtypes.Int64)
	velScope := scope.Store().RootScope().At(optimizer.Scope).At(sgdScope).WithInitializer(initializer.Zero)
	for i, v := range vars {
		w := v.NodeValue(g)
		grad := grads[i]
		if o.WeightDecay != 0 {
			grad = graph.Add(grad, graph.MulScalar(w, o.WeightDecay))
		}
		step := grad
		if o.Momentum != 0 {
			vel := velScope.VariableWithShape(velocityName(v), v.Shape()).SetTrainable(false)
			step = graph.Add(graph.MulScalar(vel.NodeValue(g), o.Momentum), grad)
			vel.SetNodeValue(step)
		}
		lrCast := lr
		if lr.DType() != step.DType() {
			lrCast = graph.ConvertDType(lr, step.DType())
		}
		v.SetNodeValue(graph.Sub(w, graph.Mul(step, lrCast)))
	}
}

func velocityName(v *model.Variable) string {
	return "velocity" + strings.ReplaceAll(v.Path(), "/", "__")
}

// Clear implements optimizer.Interface: it deletes the momentum buffers.
func (o *sgd) Clear(scope *model.Scope) error {
	return scope.Store().RootScope().At(optimizer.Scope).At(sgdScope).DeleteVariablesInScope()
}

var _ optimizer.Interface = (*sgd)(nil)
