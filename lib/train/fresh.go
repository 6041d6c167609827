package train

import (
	"strings"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/optimizer"
)

// weightsAsParameters makes every model variable that already has a value an input
// (a parameter) of g, read afresh at each call, rather than a constant frozen at
// compilation. Graphs for evaluation, prediction and saliency call it first.
//
// Why: a backend may prefer constants for variables (GoMLX's pure-Go backend does,
// compute.Capabilities.PreferConstantsForVariables), and GoMLX then embeds each
// variable's current value as a constant in every graph not marked as training. A
// compiled evaluation graph would keep the weights it first saw: after more training
// it would still report the old model. GoMLX decides between parameter and constant
// when a graph first reads a variable, so reading each one here, with g marked as
// training for that moment only, makes them parameters; g is then unmarked, so the
// model itself runs in inference mode (no dropout, batch-norm statistics frozen).
// The compiled graph is kept and reused after every training step: no recompilation.
// Measured on the pure-Go backend: evaluation is as fast with parameters as with
// constants (TestEvaluationSeesCurrentWeights checks the freshness).
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
