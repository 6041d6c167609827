package nb

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestCheckShowsTheCausesAndStops(t *testing.T) {
	var out bytes.Buffer
	code := -1
	exit, output = func(c int) { code = c }, &out
	defer func() { exit, output = os.Exit, os.Stderr }()

	Check(nil)
	if code != -1 || out.Len() != 0 {
		t.Fatalf("Check(nil) exited %d, wrote %q", code, out.String())
	}
	base := errors.New("disk full")
	err := fmt.Errorf("training on %q: %w", "fashion", fmt.Errorf("epoch 2: %w", base))
	if got := Causes(err); strings.Join(got, "|") != `training on "fashion"|epoch 2|disk full` {
		t.Errorf("Causes = %q", got)
	}
	interrupted := errors.New("training interrupted")
	if got := Causes(fmt.Errorf("%w at epoch 2, step 9", interrupted)); len(got) != 1 || got[0] != "training interrupted at epoch 2, step 9" {
		t.Errorf("Causes repeats a cause the message holds: %q", got)
	}
	if got := Causes(errors.New("")); len(got) != 1 || got[0] == "" {
		t.Errorf("Causes of an empty message: %q", got)
	}
	v := Must(42, err)
	if code != 1 || v != 42 || !strings.Contains(out.String(), "error: training on \"fashion\"\n  because: epoch 2\n  because: disk full") {
		t.Errorf("exit %d, output %q", code, out.String())
	}
	a, b := Must2(1, "x", nil)
	if a != 1 || b != "x" {
		t.Errorf("Must2 = %v %v", a, b)
	}
	if x, y, z := Must3(1, "y", 2.5, nil); x != 1 || y != "y" || z != 2.5 {
		t.Errorf("Must3 = %v %v %v", x, y, z)
	}
}

func TestContextIsCancelledByAnInterrupt(t *testing.T) {
	ctx := Context()
	if ctx.Err() != nil {
		t.Fatal("cancelled before any interrupt")
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("an interrupt did not cancel the context")
	}
}
