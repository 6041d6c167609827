package nb

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testCell writes to buffers and records the exit code instead of exiting.
func testCell(cacheDir string) (c cell, stdout, stderr *bytes.Buffer, code *int) {
	stdout, stderr, code = new(bytes.Buffer), new(bytes.Buffer), new(int)
	*code = -1
	return cell{stdout: stdout, stderr: stderr, exit: func(c int) { *code = c }, cacheDir: cacheDir}, stdout, stderr, code
}

func TestCheckShowsTheCausesAndStops(t *testing.T) {
	c, _, out, code := testCell("")
	c.check(nil)
	if *code != -1 || out.Len() != 0 {
		t.Fatalf("check(nil) exited %d, wrote %q", *code, out.String())
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
	c.check(err)
	if *code != 1 || !strings.Contains(out.String(), "error: training on \"fashion\"\n  because: epoch 2\n  because: disk full") {
		t.Errorf("exit %d, output %q", *code, out.String())
	}
	if v := Must(42, nil); v != 42 {
		t.Errorf("Must = %v", v)
	}
	a, b := Must2(1, "x", nil)
	if a != 1 || b != "x" {
		t.Errorf("Must2 = %v %v", a, b)
	}
	if x, y, z := Must3(1, "y", 2.5, nil); x != 1 || y != "y" || z != 2.5 {
		t.Errorf("Must3 = %v %v %v", x, y, z)
	}
}

// Must with an error ends the program with status 1 and the error on standard error:
// the test runs itself as that program.
func TestMustExitsWithTheError(t *testing.T) {
	if os.Getenv("NB_TEST_MUST") == "1" {
		Must(0, fmt.Errorf("loading a model: %w", errors.New("no checkpoint")))
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestMustExitsWithTheError$")
	cmd.Env = append(os.Environ(), "NB_TEST_MUST=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(stderr.String(), "error: loading a model\n  because: no checkpoint") {
		t.Errorf("Must with an error: %v, standard error %q; want status 1 and the causes", err, stderr.String())
	}
}

func TestClaimPrintsItsNumbers(t *testing.T) {
	c, stdout, stderr, code := testCell("")
	if !c.claim("momentum beats plain SGD", true, "momentum", 0.84125, "SGD", float32(0.8222), "steps", 935) {
		t.Error("a claim that holds returned false")
	}
	if got := stdout.String(); got != "✓ momentum beats plain SGD: momentum 0.8413, SGD 0.8222, steps 935\n" {
		t.Errorf("printed %q", got)
	}
	if c.claim("the loss falls", false, 2.3026, 2.4) {
		t.Error("a broken claim returned true")
	}
	if got := stderr.String(); got != "✗ broken claim: the loss falls: 2.303, 2.4\n" || *code != -1 {
		t.Errorf("broken claim: standard error %q, exit %d: want the claim and its numbers, and no exit", got, *code)
	}
	for v, want := range map[any]string{12345.6: "12346", 1e20: "1e+20", "a": "a", 7: "7", 0.000123456: "0.0001235"} {
		if got := formatNumbers([]any{v}); got != want {
			t.Errorf("formatNumbers(%v) = %q, want %q", v, got, want)
		}
	}
	if got := formatNumbers([]any{"train", "test", 0.5}); got != "train, test 0.5" {
		t.Errorf("two labels in a row: %q", got)
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
