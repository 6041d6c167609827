package serve

import "testing"

func TestPowerOfTwoBelow(t *testing.T) {
	for n, want := range map[int]int{1: 1, 2: 2, 3: 2, 4: 4, 7: 4, 8: 8, 17: 16, 31: 16, 32: 32, 33: 32} {
		if got := powerOfTwoBelow(n); got != want {
			t.Errorf("powerOfTwoBelow(%d) = %d, want %d", n, got, want)
		}
	}
}
