package metrics

// TrailingMean returns, for each step, the mean of the last window values up to and
// including it (of all of them so far for the first window-1 steps): the smoothed
// loss-by-step curve in which a plateau, or its end, can be read off, where single
// batch losses jump about. A window below 1 counts as 1.
func TrailingMean(v []float64, window int) []float64 {
	window = max(window, 1)
	out := make([]float64, len(v))
	sum := 0.0
	for i, x := range v {
		sum += x
		if i >= window {
			sum -= v[i-window]
		}
		out[i] = sum / float64(min(i+1, window))
	}
	return out
}
