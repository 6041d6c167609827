package train

import "math"

// Schedule gives the learning rate of each epoch (0-based). It is applied before the
// epoch starts, as PyTorch's scheduler.step() once per epoch.
type Schedule interface {
	LR(epoch int) float64
}

// ScheduleFunc adapts a function to a Schedule.
type ScheduleFunc func(epoch int) float64

// LR implements Schedule.
func (f ScheduleFunc) LR(epoch int) float64 { return f(epoch) }

// StepLR multiplies the rate by Gamma every StepSize epochs (PyTorch's StepLR).
type StepLR struct {
	Base     float64
	StepSize int
	Gamma    float64
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
	Base, Min float64
	Epochs    int
}

// LR implements Schedule.
func (c Cosine) LR(epoch int) float64 {
	if c.Epochs <= 0 {
		return c.Base
	}
	t := math.Min(float64(epoch), float64(c.Epochs)) / float64(c.Epochs)
	return c.Min + (c.Base-c.Min)*(1+math.Cos(math.Pi*t))/2
}
