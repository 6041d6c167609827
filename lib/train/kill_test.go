package train

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopherdl/gopherdl/lib/metrics"
)

var kills = flag.Int("kills", 3, "how many runs TestKilledRunsResume kills (100 for the full measurement)")

// killChildEnv names the checkpoint folder of the training run that
// TestKilledRunsResume starts in a child process.
const killChildEnv = "GOPHERDL_KILL_CHILD_DIR"

// TestKilledRunsResume trains a tiny model in a child process that saves a
// checkpoint after every epoch (several a second), kills it with SIGKILL at a
// random moment, and checks that the newest checkpoint loads and that the next run
// resumes from it; -kills times, in one folder. go test -run KilledRuns -kills 100
// is the full measurement.
func TestKilledRunsResume(t *testing.T) {
	if dir := os.Getenv(killChildEnv); dir != "" {
		killChild(t, dir)
		return
	}
	dir := t.TempDir()
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	t.Logf("seed %d", seed)
	latest, saves, start := 0, 0, time.Now()
	for i := range *kills {
		first, err := killOnce(t, dir, time.Duration(rng.Int64N(int64(3*time.Second))))
		if err != nil {
			t.Fatalf("run %d: %v", i+1, err)
		}
		if first != 0 && first != latest+1 {
			t.Fatalf("run %d trained epoch %d first; the newest checkpoint before it was epoch %d", i+1, first, latest)
		}
		folder := LatestCheckpoint(dir)
		n, _ := epochOf(folder)
		m, err := Load(dir)
		if folder == "" || err != nil {
			if latest > 0 || first != 0 {
				t.Fatalf("run %d killed: the newest checkpoint %q does not load: %v", i+1, folder, err)
			}
			continue // killed before its first save
		}
		if len(m.History) != n || m.History[n-1].Epoch != n || n < latest {
			t.Fatalf("run %d killed: %s holds %d epochs; the one before had %d", i+1, folder, len(m.History), latest)
		}
		m.Close()
		saves += n - latest
		latest = n
	}
	var left []string
	for _, name := range dirNames(t, dir) {
		if _, ok := epochOf(name); !ok {
			left = append(left, name)
		}
	}
	if len(left) > 1 {
		t.Errorf("after %d kills the folder holds %v besides its checkpoints: want at most one dead save's folder", *kills, left)
	}
	t.Logf("%d runs killed; every newest checkpoint loaded and was resumed from; %d epochs saved, %.1f saves/s",
		*kills, saves, float64(saves)/time.Since(start).Seconds())
}

// killOnce starts a training run in dir, kills it after delay and returns the
// first epoch it reported (0: none).
func killOnce(t *testing.T, dir string, delay time.Duration) (first int, err error) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledRunsResume$", "-test.count=1")
	cmd.Env = append(os.Environ(), killChildEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	var lines []string
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for sc := bufio.NewScanner(out); sc.Scan(); {
			lines = append(lines, sc.Text())
		}
	}()
	time.Sleep(delay)
	cmd.Process.Kill()
	wg.Wait()
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != -1 {
		return 0, fmt.Errorf("the run ended by itself (%v) before it was killed: %s%s", err, strings.Join(lines, "\n"), stderr.String())
	}
	for _, l := range lines {
		if e, ok := strings.CutPrefix(l, "epoch "); ok {
			return strconv.Atoi(e)
		}
	}
	return 0, nil
}

// killChild is the run TestKilledRunsResume kills: it trains on until killed,
// printing each epoch after its checkpoint is saved.
func killChild(t *testing.T, dir string) {
	cfg := quickConfig(1 << 20)
	cfg.CheckpointDir, cfg.StepSize = dir, 0 // a constant rate: StepLR would reach 0 within thousands of epochs
	m := tinyModel(t, cfg)
	_, err := m.Fit(context.Background(), tinyData(), tinyData(), func(h []metrics.Epoch) {
		fmt.Printf("epoch %d\n", len(h))
	})
	fmt.Fprintln(os.Stderr, "Fit returned:", err, filepath.Base(dir))
	os.Exit(3)
}
