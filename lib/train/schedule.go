package train

import (
	"fmt"
	"math"
)

// Schedule gives the learning rate of each epoch (0-based). It is applied before the
// epoch starts, as PyTorch's scheduler.step() once per epoch. StepLR, Constant and
// Cosine are saved with the checkpoints; a type of your own with an LR method is a
// custom schedule, which a checkpoint cannot hold.
type Schedule interface {
	LR(epoch int) float64
}

// StepLR multiplies the rate by Gamma every StepSize epochs (PyTorch's StepLR).
type StepLR struct {
	Base     float64 `json:"base"`
	StepSize int     `json:"step_size"`
	Gamma    float64 `json:"gamma"`
}

// LR implements Schedule.
func (s StepLR) LR(epoch int) float64 {
	if s.StepSize <= 0 {
		return s.Base
	}
	return s.Base * math.Pow(s.Gamma, float64(epoch/s.StepSize))
}

// Constant keeps the rate fixed.
type Constant float64

// LR implements Schedule.
func (c Constant) LR(int) float64 { return float64(c) }

// Cosine anneals the rate from Base to Min over Epochs epochs (PyTorch's
// CosineAnnealingLR with T_max = Epochs).
type Cosine struct {
	Base   float64 `json:"base"`
	Min    float64 `json:"min"`
	Epochs int     `json:"epochs"`
}

// LR implements Schedule.
func (c Cosine) LR(epoch int) float64 {
	if c.Epochs <= 0 {
		return c.Base
	}
	t := math.Min(float64(epoch), float64(c.Epochs)) / float64(c.Epochs)
	return c.Min + (c.Base-c.Min)*(1+math.Cos(math.Pi*t))/2
}

// scheduleSpec is a Schedule as a checkpoint holds it.
type scheduleSpec struct {
	// Kind is "step_lr", "cosine", "constant", or "func" for another Schedule type, which
	// cannot be saved.
	Kind     string   `json:"kind"`
	StepLR   *StepLR  `json:"step_lr,omitempty"`
	Cosine   *Cosine  `json:"cosine,omitempty"`
	Constant *float64 `json:"constant,omitempty"`
}

// specOf describes s for a checkpoint; nil (Config's own StepLR) gives nil.
func specOf(s Schedule) *scheduleSpec {
	switch v := s.(type) {
	case nil:
		return nil
	case StepLR:
		return &scheduleSpec{Kind: "step_lr", StepLR: &v}
	case Cosine:
		return &scheduleSpec{Kind: "cosine", Cosine: &v}
	case Constant:
		f := float64(v)
		return &scheduleSpec{Kind: "constant", Constant: &f}
	}
	return &scheduleSpec{Kind: "func"}
}

// schedule returns the saved schedule; custom reports a schedule that was not saved.
func (s *scheduleSpec) schedule() (sched Schedule, custom bool) {
	switch {
	case s == nil:
		return nil, false
	case s.StepLR != nil:
		return *s.StepLR, false
	case s.Cosine != nil:
		return *s.Cosine, false
	case s.Constant != nil:
		return Constant(*s.Constant), false
	}
	return nil, true
}

// String describes the schedule for messages.
func (s *scheduleSpec) String() string {
	switch {
	case s == nil:
		return "StepLR (from the config)"
	case s.StepLR != nil:
		return fmt.Sprintf("StepLR(%g, %d, %g)", s.StepLR.Base, s.StepLR.StepSize, s.StepLR.Gamma)
	case s.Cosine != nil:
		return fmt.Sprintf("Cosine(%g to %g over %d)", s.Cosine.Base, s.Cosine.Min, s.Cosine.Epochs)
	case s.Constant != nil:
		return fmt.Sprintf("Constant(%g)", *s.Constant)
	}
	return "a custom schedule"
}
