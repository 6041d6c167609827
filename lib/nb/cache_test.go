package nb

import (
	"strings"
	"testing"
)

type result struct {
	Loss   float64
	Labels []int32
}

func TestCacheKeepsAValueForLaterCells(t *testing.T) {
	c, _, out, _ := testCell(t.TempDir())
	calls := 0
	compute := func() *result { calls++; return &result{Loss: 0.5, Labels: []int32{1, 2}} }
	a := cached(c, "evaluation", compute)
	b := cached(c, "evaluation", compute) // a later cell: read back, not computed
	if calls != 1 || b.Loss != 0.5 || len(b.Labels) != 2 || a.Labels[1] != b.Labels[1] {
		t.Fatalf("calls %d, first %+v, second %+v", calls, a, b)
	}
	// The same key read as another type is computed again, not an error.
	if n := cached(c, "evaluation", func() int { return 7 }); n != 7 {
		t.Errorf("another type under the key: got %d", n)
	}
	c.forget("evaluation")
	cached(c, "evaluation", compute)
	if calls != 2 {
		t.Errorf("after Forget: %d calls, want 2", calls)
	}
	// A value gob cannot encode is returned, with a note that it is not kept.
	f := cached(c, "func", func() func() int { return func() int { return 3 } })
	if f() != 3 || !strings.Contains(out.String(), `the value of "func" is not kept`) {
		t.Errorf("unencodable value: output %q", out.String())
	}
}

func TestCacheRefusesKeysThatAreNotNames(t *testing.T) {
	c, _, out, code := testCell(t.TempDir())
	cached(c, "a/b", func() int { return 1 })
	if *code != 1 || !strings.Contains(out.String(), "want a short name without slashes") {
		t.Errorf("exit %d, output %q", *code, out.String())
	}
}

func TestCacheOutsideANotebookComputesEveryTime(t *testing.T) {
	calls := 0
	for range 2 {
		Cache("x", func() int { calls++; return calls })
	}
	if calls != 2 {
		t.Errorf("%d calls, want 2 (nothing kept outside a notebook)", calls)
	}
}
