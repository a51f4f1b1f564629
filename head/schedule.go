package head

import "math"

// lrAt is the learning rate at step (0-based) of total: a linear warm-up
// over the first warm steps to the peak, then linear or cosine decay
// towards zero, or constant.
func lrAt(schedule string, peak float64, step, total, warm int) float64 {
	if step < warm {
		return peak * float64(step+1) / float64(warm)
	}
	decay := total - warm
	if schedule == ScheduleConstant || decay <= 0 {
		return peak
	}
	p := float64(step-warm) / float64(decay)
	if schedule == ScheduleCosine {
		return peak * 0.5 * (1 + math.Cos(math.Pi*p))
	}
	return peak * (1 - p)
}
