package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// procStat is where the kernel counts CPU time per CPU.
const procStat = "/proc/stat"

// userHZ is the unit of /proc/stat: the kernel reports USER_HZ ticks, 100 per second
// on every Linux architecture Go supports (sysconf(_SC_CLK_TCK) needs cgo).
const userHZ = 100

// quietCores is the default limit on other processes' CPU during a round, in cores.
const quietCores = 0.1

// cpuIdle is each CPU's idle time (idle and iowait) in USER_HZ ticks, by CPU number.
type cpuIdle map[int]uint64

// parseProcStat reads the per-CPU lines ("cpuN user nice system idle iowait irq
// softirq steal ...") of a /proc/stat file named name and returns each CPU's idle
// and iowait time. Busy time is taken as the rest of the wall-clock time: the kernel
// counts idle time exactly (with its tick stopped, as NO_HZ kernels do), while user
// and system time are tick samples that, for work that sleeps and wakes within a
// tick, can be off by a large part of a core. The rest includes steal, time the
// hypervisor gave to other machines: a neighbour as much as a process is.
func parseProcStat(name string, r io.Reader) (cpuIdle, error) {
	idle := cpuIdle{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20) // the intr line is long
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || !strings.HasPrefix(f[0], "cpu") || f[0] == "cpu" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimPrefix(f[0], "cpu"))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%s: field 1 %q of a per-CPU line: expected cpuN", name, f[0])
		}
		if len(f) < 9 {
			return nil, fmt.Errorf("%s: %s: %d fields, expected at least 8 counters (user to steal)", name, f[0], len(f)-1)
		}
		for i, field := range []string{"user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"} {
			v, err := strconv.ParseUint(f[i+1], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: %s field %s = %q: expected a count of ticks", name, f[0], field, f[i+1])
			}
			if field == "idle" || field == "iowait" {
				idle[n] += v
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(idle) == 0 {
		return nil, fmt.Errorf("%s: no per-CPU lines (cpu0, cpu1, ...)", name)
	}
	return idle, nil
}

// readProcStat reads the machine's per-CPU idle ticks.
func readProcStat() (cpuIdle, error) {
	f, err := os.Open(procStat)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseProcStat(procStat, f)
}

// busySeconds is the CPU time not idle between two readings wall apart, summed over
// the CPUs this process may run on: work on CPUs it cannot use does not slow it.
func busySeconds(before, after cpuIdle, wall time.Duration, mine func(int) bool) float64 {
	var busy float64
	for n, a := range after {
		b, ok := before[n]
		if !ok || a < b || !mine(n) {
			continue
		}
		busy += max(0, wall.Seconds()-float64(a-b)/userHZ)
	}
	return busy
}

// myCPUs reports which CPUs this process may run on.
func myCPUs() func(int) bool {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil || set.Count() == 0 {
		return func(int) bool { return true }
	}
	return set.IsSet
}

// ownSeconds is the CPU time, user and system, of this process and of its children
// that have been waited for: the benchmark's own work, whichever process did it; and
// the system part of it.
func ownSeconds() (total, system float64, err error) {
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if err := syscall.Getrusage(who, &ru); err != nil {
			return 0, 0, fmt.Errorf("getrusage: %w", err)
		}
		total += tvSeconds(ru.Utime) + tvSeconds(ru.Stime)
		system += tvSeconds(ru.Stime)
	}
	return total, system, nil
}

func tvSeconds(tv syscall.Timeval) float64 {
	return float64(tv.Sec) + float64(tv.Usec)/1e6
}

// Load is the CPU use during one measured round.
type Load struct {
	Wall   time.Duration // the round's length
	Busy   float64       // CPU seconds every process used on this process's CPUs
	Own    float64       // CPU seconds the benchmark used: itself and its waited-for children
	OwnSys float64       // the part of Own spent in the kernel
	Others float64       // Busy minus Own, at least 0: CPU seconds other processes took
}

// OthersCores is how many cores other processes kept busy on average.
func (l Load) OthersCores() float64 {
	if l.Wall <= 0 {
		return 0
	}
	return l.Others / l.Wall.Seconds()
}

// Contended says whether others used more than limit cores during the round.
func (l Load) Contended(limit float64) bool { return l.OthersCores() > limit }

// newLoad computes others' CPU from the machine's busy time and the benchmark's own.
// Idle time comes in whole ticks, so a quiet round can come out a little below zero;
// it is clamped.
func newLoad(wall time.Duration, busy, own float64) Load {
	return Load{Wall: wall, Busy: busy, Own: own, Others: max(0, busy-own)}
}

// measure runs fn and reports the CPU others used meanwhile. fn's CPU counts as the
// benchmark's own if fn runs in this process or in children it waits for before
// returning; a process it leaves running counts as another's.
func measure(fn func() error) (Load, error) {
	mine := myCPUs()
	ownBefore, sysBefore, err := ownSeconds()
	if err != nil {
		return Load{}, err
	}
	before, err := readProcStat()
	if err != nil {
		return Load{}, err
	}
	start := time.Now()
	fnErr := fn()
	after, err := readProcStat()
	wall := time.Since(start)
	if err != nil {
		return Load{}, err
	}
	ownAfter, sysAfter, err := ownSeconds()
	if err != nil {
		return Load{}, err
	}
	l := newLoad(wall, busySeconds(before, after, wall, mine), ownAfter-ownBefore)
	l.OwnSys = sysAfter - sysBefore
	return l, fnErr
}

// waitQuiet waits until others use at most limit cores over a second, checking for up
// to maxWait, and returns the last second's load: a contended round is not run again
// straight into the work that spoiled it.
func waitQuiet(limit float64, maxWait time.Duration) (Load, error) {
	deadline := time.Now().Add(maxWait)
	for {
		l, err := measure(func() error { time.Sleep(time.Second); return nil })
		if err != nil || !l.Contended(limit) || time.Now().After(deadline) {
			return l, err
		}
	}
}
