package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopherdl/gopherdl/lib/data"
)

// burnEnv makes the test binary a child that burns this much CPU time and exits.
const burnEnv = "GOPHERDL_BENCH_BURN"

func TestMain(m *testing.M) {
	if d, err := time.ParseDuration(os.Getenv(burnEnv)); err == nil {
		burn(d)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// burn spins on one thread until this process has used d of CPU time.
func burn(d time.Duration) {
	for x := 0; ; x++ {
		if x%1_000_000 == 0 {
			used, err := selfCPU()
			if err != nil || used >= d {
				return
			}
		}
	}
}

const sampleStat = `cpu  300 20 100 5000 40 0 8 2 7 0
cpu0 100 10 50 2500 20 0 4 1 7 0
cpu1 200 10 50 2500 20 0 4 1 0 0
intr 21994455 0 0 0
ctxt 45916738
`

func TestParseProcStat(t *testing.T) {
	got, err := parseProcStat("stat", strings.NewReader(sampleStat))
	if err != nil {
		t.Fatal(err)
	}
	if got[0] != 2520 || got[1] != 2520 || len(got) != 2 {
		t.Errorf("idle+iowait ticks %v, want cpu0 2520, cpu1 2520", got)
	}
	for _, bad := range []struct{ text, want string }{
		{"cpu0 1 2 x 4 5 6 7 8\n", "stat: cpu0 field system = \"x\""},
		{"cpu0 1 2 3\n", "stat: cpu0: 3 fields"},
		{"cpuX 1 2 3 4 5 6 7 8\n", "stat: field 1 \"cpuX\""},
		{"cpu 1 2 3 4 5 6 7 8\n", "stat: no per-CPU lines"},
	} {
		_, err := parseProcStat("stat", strings.NewReader(bad.text))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("parseProcStat(%q) = %v, want an error with %q", bad.text, err, bad.want)
		}
	}
}

func TestBusySecondsCountsMyCPUs(t *testing.T) {
	// Over 2 s: cpu0 idle 0.5 s, cpu1 idle 2 s, cpu2 idle 0 s; idle ticks above the
	// wall-clock time count as no busy time.
	before := cpuIdle{0: 100, 1: 100, 2: 100, 4: 0}
	after := cpuIdle{0: 150, 1: 300, 2: 100, 3: 999, 4: 300} // cpu3 came online: no base
	if got := busySeconds(before, after, 2*time.Second, func(int) bool { return true }); got != 3.5 {
		t.Errorf("all CPUs: %v s busy, want 3.5", got)
	}
	if got := busySeconds(before, after, 2*time.Second, func(n int) bool { return n == 0 }); got != 1.5 {
		t.Errorf("cpu0 only: %v s busy, want 1.5", got)
	}
}

// A round whose busy time is the benchmark's own is quiet; the same busy time with
// none of it the benchmark's is contended.
func TestOwnCPUIsNotOthers(t *testing.T) {
	mine := newLoad(2*time.Second, 3.9, 3.85)
	if mine.Contended(quietCores) {
		t.Errorf("own work counted as others: %+v, %.3f cores", mine, mine.OthersCores())
	}
	theirs := newLoad(2*time.Second, 3.9, 2.0)
	if !theirs.Contended(quietCores) || theirs.Others != 1.9 {
		t.Errorf("others' 1.9 s over 2 s not contended: %+v", theirs)
	}
	if clock := newLoad(time.Second, 1.0, 1.02); clock.Others != 0 {
		t.Errorf("rusage above the ticks: others %v, want 0", clock.Others)
	}
}

// burnChild runs this test binary as a child that burns d of CPU and waits for it.
func burnChild(d time.Duration) error {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), burnEnv+"="+d.String())
	return cmd.Run()
}

// The CPU the benchmark burns, in a waited-for child and in this process, is
// subtracted from the machine's busy time. Neighbours may be busy too, so the test
// checks the figures measure computes rather than its verdict.
func TestOwnCPUIsSubtracted(t *testing.T) {
	const inChild, inSelf = 1200 * time.Millisecond, 400 * time.Millisecond
	l, err := measure(func() error {
		if err := burnChild(inChild); err != nil {
			return err
		}
		used, err := selfCPU()
		burn(used + inSelf) // burn counts from the process's start
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v, others %.2f cores", l, l.OthersCores())
	burnt := (inChild + inSelf).Seconds()
	if l.Own < burnt {
		t.Errorf("own CPU %.2f s, want at least the %.2f s burnt", l.Own, burnt)
	}
	if l.Own > burnt+0.5 {
		t.Errorf("own CPU %.2f s, want about the %.2f s burnt", l.Own, burnt)
	}
	// The kernel's idle time saw the burn too, within a tick per CPU and reading.
	if l.Busy < burnt-0.05 {
		t.Errorf("/proc/stat busy %.2f s, below the %.2f s burnt", l.Busy, burnt)
	}
	if want := max(0, l.Busy-l.Own); l.Others != want {
		t.Errorf("others %.2f s, want busy - own = %.2f s", l.Others, want)
	}
	if l.Contended(quietCores) != (l.Others/l.Wall.Seconds() > quietCores) {
		t.Errorf("verdict %v does not follow others %.2f s in %v", l.Contended(quietCores), l.Others, l.Wall)
	}
}

// selfCPU is this process's CPU time so far.
func selfCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	return time.Duration((tvSeconds(ru.Utime) + tvSeconds(ru.Stime)) * float64(time.Second)), nil
}

// A process spinning on a core beside the benchmark makes the round contended, and
// the report says so instead of printing a ratio.
func TestBusyLoopIsReported(t *testing.T) {
	spin := exec.Command("sh", "-c", "while :; do :; done")
	if err := spin.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		spin.Process.Kill()
		spin.Wait()
	}()
	time.Sleep(100 * time.Millisecond)
	sleep := func(data.Shape) (Result, error) {
		time.Sleep(700 * time.Millisecond)
		return Result{TrainImagesPerSecond: 1000, EvalImagesPerSecond: 2000, PeakRSSMB: 100}, nil
	}
	sides := []side{{"go", sleep}, {"torch", sleep}}
	var out bytes.Buffer
	settled := 0
	settle := func() (Load, error) {
		settled++
		return waitQuiet(quietCores, 1500*time.Millisecond)
	}
	rounds, err := runRounds(&out, data.Shape{Channels: 1, Height: 28, Width: 28}, sides, plan{want: 1, retries: 1, limit: quietCores, measure: measure, settle: settle})
	if err != nil {
		t.Fatal(err)
	}
	report(&out, "1x28x28", names(sides), rounds, quietCores)
	t.Log("\n" + out.String())
	if len(rounds) != 2 || settled != 1 {
		t.Errorf("%d rounds, %d waits for quiet, want 2 and 1: the contended round run again once", len(rounds), settled)
	}
	if !regexp.MustCompile(`1x28x28 waited [23] s for the machine to be quiet: others [0-9.]+ cores`).MatchString(out.String()) {
		t.Errorf("the wait for a quiet machine (1.5 s at most, checked a second at a time) is not reported as 2 s:\n%s", out.String())
	}
	for i, r := range rounds {
		for j, l := range r.loads {
			if !l.Contended(quietCores) || l.OthersCores() < 0.3 {
				t.Errorf("round %d, %s: others %.2f cores beside a busy loop, want contended", i+1, sides[j].name, l.OthersCores())
			}
		}
	}
	if !strings.Contains(out.String(), "1x28x28: contended: no quiet round in 2") || strings.Contains(out.String(), "go/torch") {
		t.Errorf("the report does not say the runs were contended, or prints a ratio:\n%s", out.String())
	}
}

// Contended rounds are run again until enough are quiet, then left out of the figures.
func TestContendedRoundsAreLeftOut(t *testing.T) {
	loads := []float64{0.5, 0.0, 0.0, 0.0, 0.3, 0.0, 0.0, 0.0} // cores of others, per side run
	speeds := []float64{9000, 9000, 1000, 500, 9000, 9000, 1200, 600, 1100, 400}
	i := 0
	fake := func(fn func() error) (Load, error) {
		err := fn()
		l := newLoad(time.Second, loads[i]+1, 1)
		l.OwnSys = float64(i%2+1) / 10 // go 10 %, torch 20 %
		i++
		return l, err
	}
	k := 0
	next := func(data.Shape) (Result, error) {
		s := speeds[k]
		k++
		return Result{TrainImagesPerSecond: s, EvalImagesPerSecond: 2 * s, PeakRSSMB: s / 10}, nil
	}
	settled := 0
	settle := func() (Load, error) { settled++; return Load{}, nil }
	sides := []side{{"go", next}, {"torch", next}}
	var out bytes.Buffer
	rounds, err := runRounds(&out, data.Shape{Channels: 3, Height: 32, Width: 32}, sides, plan{want: 2, retries: 5, limit: quietCores, measure: fake, settle: settle})
	if err != nil {
		t.Fatal(err)
	}
	report(&out, "3x32x32", names(sides), rounds, quietCores)
	t.Log("\n" + out.String())
	if len(rounds) != 4 || settled != 2 {
		t.Fatalf("%d rounds, %d waits for quiet; want 4 rounds, two contended, each followed by a wait", len(rounds), settled)
	}
	for _, want := range []string{
		"3x32x32 round 1: contended, left out (others' CPU: go 0.50, torch 0.00 cores)",
		"3x32x32 round 2: quiet",
		"3x32x32: 2 quiet rounds, 2 contended (left out)",
		"    go                     1200     1100       1000-1200",
		"    torch                   600      550         500-600",
		"    go/torch              2.00x    2.00x",
		"peak RSS MB, median: go 110, torch 55 (go/torch 2.00x)",
		"CPU time in the kernel (system), median: go 10 %, torch 20 %",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "9000") {
		t.Errorf("a contended round's figure is in the report:\n%s", out.String())
	}
}

func TestRunRoundsStopsOnError(t *testing.T) {
	boom := errors.New("boom")
	fail := func(data.Shape) (Result, error) { return Result{}, boom }
	_, err := runRounds(&bytes.Buffer{}, data.Shape{}, []side{{"go", fail}}, plan{want: 3, retries: 3, limit: quietCores, measure: measure})
	if !errors.Is(err, boom) {
		t.Errorf("err %v, want boom", err)
	}
}

func TestPeerEnv(t *testing.T) {
	t.Setenv("MALLOC_ARENA_MAX", "8")
	env := strings.Join(peerEnv(nil), "\n")
	if strings.Contains(env, "MALLOC_ARENA_MAX") {
		t.Errorf("the default peer keeps MALLOC_ARENA_MAX")
	}
	env = strings.Join(peerEnv(peerMalloc), "\n")
	if strings.Contains(env, "MALLOC_ARENA_MAX=8") || !strings.Contains(env, "MALLOC_ARENA_MAX=1\nMALLOC_MMAP_THRESHOLD_=1000000000\nMALLOC_TRIM_THRESHOLD_=1000000000") {
		t.Errorf("tuned peer environment:\n%s", env)
	}
}

// tools/torch_onnx.py (notebook 7's PyTorch model) restarts itself with the peer's
// malloc settings: the two lists stay the same.
func TestTorchONNXUsesThePeersMalloc(t *testing.T) {
	src, err := os.ReadFile("../tools/torch_onnx.py")
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range peerMalloc {
		k, v, _ := strings.Cut(kv, "=")
		if !strings.Contains(string(src), fmt.Sprintf("%q: %q", k, v)) {
			t.Errorf("tools/torch_onnx.py does not set %s as the peer does (MALLOC dict)", kv)
		}
	}
}
