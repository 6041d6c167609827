package train

// StepLoss is one training step's result, as Fit reports it to Config.OnStep: the
// record to draw the loss by step (plot.StepLoss), where the per-epoch history has
// one point per epoch.
type StepLoss struct {
	Epoch int // 1-based
	// Step is 1-based and counts the run's steps from its first epoch: epoch e's
	// steps follow those of the e-1 epochs before it, also in a resumed run.
	Step int
	Loss float64 // the batch's mean cross-entropy, before the step's update
	LR   float64 // the learning rate of the step
}
