package train

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gopherdl/gopherdl/lib/metrics"
)

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestEpochOf(t *testing.T) {
	for name, want := range map[string]int{"epoch-0007": 7, "epoch-10000": 10000, "/x/epoch-0003": 3, "epoch-3": 3} {
		if n, ok := epochOf(name); !ok || n != want {
			t.Errorf("epochOf(%q) = %d, %v; want %d", name, n, ok, want)
		}
	}
	for _, name := range []string{"epoch-0003.bak", "epoch-", "epoch-x1", "Epoch-0001", "epoch-00 1", "my epoch-0001", "epoch-99999999999999999999999"} {
		if n, ok := epochOf(name); ok {
			t.Errorf("epochOf(%q) = %d: want no epoch", name, n)
		}
	}
	if n, ok := epochOf(epochDir(10000)); !ok || n != 10000 {
		t.Errorf("epochOf(epochDir(10000)) = %d, %v", n, ok)
	}
}

// TestOnlyEpochFoldersCount puts a user's copies and look-alikes beside a run's
// checkpoints: they are never loaded, never pruned and never newer; epochs count as
// numbers (10000 after 9999).
func TestOnlyEpochFoldersCount(t *testing.T) {
	_, dir, d := tinyRun(t, 3)
	latest := filepath.Join(dir, "epoch-0003")
	if err := exec.Command("cp", "-a", latest, filepath.Join(dir, "epoch-0003.bak")).Run(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"epoch-0099x", "epoch-", ".saving-epoch-0100-1"} {
		os.Mkdir(filepath.Join(dir, name), 0o755)
	}
	os.WriteFile(filepath.Join(dir, "epoch-0100"), []byte("a file, not a checkpoint"), 0o644)
	if got := LatestCheckpoint(dir); got != latest {
		t.Errorf("LatestCheckpoint = %q, want %q", got, latest)
	}
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.LoadedFrom() != latest || len(m.History) != 3 {
		t.Errorf("Load read %q (%d epochs), want %s (3)", m.LoadedFrom(), len(m.History), latest)
	}
	m.Backend, m.Config.Quiet = goBackend(t), true
	if _, err := m.FitMore(context.Background(), 2, d, d); err != nil {
		t.Fatal(err)
	}
	names := dirNames(t, dir)
	for _, want := range []string{"epoch-0003.bak", "epoch-0099x", "epoch-", "epoch-0100", "epoch-0004", "epoch-0005"} {
		if !slices.Contains(names, want) {
			t.Errorf("after two more epochs, %s is gone: %v", want, names)
		}
	}
	if slices.Contains(names, "epoch-0002") || slices.Contains(names, ".saving-epoch-0100-1") {
		t.Errorf("after two more epochs the folder holds %v: want epoch-0002 pruned and the dead save's folder removed", names)
	}

	// Epoch 10000 is newer than 9999.
	best := m.bestEpoch
	for _, n := range []int{9999, 10000} {
		m.History = append(m.History, make([]metrics.Epoch, n-len(m.History))...)
		if err := m.Save(dir); err != nil {
			t.Fatal(err)
		}
	}
	if got := LatestCheckpoint(dir); got != filepath.Join(dir, "epoch-10000") {
		t.Errorf("LatestCheckpoint = %q, want epoch-10000", got)
	}
	epochs, _ := listEpochs(dir)
	want := []string{epochDir(best), "epoch-9999", "epoch-10000"}
	if !slices.Equal(epochs, want) {
		t.Errorf("checkpoints %v after saving 9999 and 10000; want %v (the best epoch and the newest 2)", epochs, want)
	}
	l, err := Load(dir)
	if err != nil || len(l.History) != 10000 {
		t.Errorf("Load after epoch 10000: %v", err)
	}
}

// TestSaveNeverLeavesAGap saves one epoch again and again while readers look for
// the newest checkpoint: each finds that epoch, complete, every time. The store keeps
// no checkpoint handler however often it saves.
func TestSaveNeverLeavesAGap(t *testing.T) {
	m, dir, _ := tinyRun(t, 2)
	want := filepath.Join(dir, "epoch-0002")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads, misses atomic.Int64
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				latest := LatestCheckpoint(dir)
				if st, err := readState(latest); latest != want || err != nil || len(st.History) != 2 {
					misses.Add(1)
				}
				reads.Add(1)
			}
		}()
	}
	for range 20 {
		if err := m.Save(dir); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if misses.Load() > 0 {
		t.Errorf("%d of %d reads during 20 saves of epoch 2 found no complete epoch 2", misses.Load(), reads.Load())
	}
	if l := m.store.Loader(); l != nil {
		t.Errorf("the store holds the loader %T after saves: want none", l)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"epoch-0001", "epoch-0002"}) {
		t.Errorf("the folder holds %v, want the two epochs alone", names)
	}
	l, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Save(t.TempDir()); err != nil || l.store.Loader() != nil {
		t.Errorf("a loaded model saved: %v; its store's loader: %v (want none)", err, l.store.Loader())
	}
}
