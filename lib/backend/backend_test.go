package backend

import (
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func TestChoice(t *testing.T) {
	t.Setenv(Env, "")
	t.Setenv("GOMLX_BACKEND", "")
	b, err := New("auto")
	if err != nil {
		t.Fatal(err)
	}
	if b.ID == "go" && !strings.Contains(b.Note, "no XLA plugin installed") {
		t.Errorf("fallback to go without saying why: %q", b)
	}
	t.Setenv("PJRT_PLUGIN_LIBRARY_PATH", t.TempDir())
	if _, err := New("xla:cuda"); err == nil || !strings.Contains(err.Error(), "not installed") || !strings.Contains(err.Error(), "cmd/xla-install -plugin cuda") {
		t.Errorf("xla:cuda without its plugin: %v", err)
	}
	if _, err := New("tpu9"); err == nil || !strings.Contains(err.Error(), "want go, xla:cpu") {
		t.Errorf("unknown backend: %v", err)
	}
	t.Setenv(Env, "go")
	if b, err := New(""); err != nil || b.ID != "go" || !strings.Contains(b.Note, Env) {
		t.Errorf("from the environment: %v %v", b, err)
	}
}

func TestDefaultIsSharedUntilReplaced(t *testing.T) {
	t.Setenv(Env, "go")
	a, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Default()
	if a != b {
		t.Error("two calls of Default gave two backends")
	}
	c, err := SetDefault("go")
	if err != nil || c == a {
		t.Fatalf("SetDefault: %v", err)
	}
	if d, _ := Default(); d != c {
		t.Error("Default does not return the backend SetDefault made")
	}
	if _, err := SetDefault("tpu9"); err == nil {
		t.Error("SetDefault accepted an unknown backend")
	}
	if d, _ := Default(); d != c {
		t.Error("a failed SetDefault replaced the default")
	}
}

// TestGoExecutorsFollowTheCores checks that the pure-Go backend runs as many op
// executors as the process has cores, unless the name sets num_executors.
func TestGoExecutorsFollowTheCores(t *testing.T) {
	executors := func(name string) int64 {
		b, err := New(name)
		if err != nil {
			t.Fatal(err)
		}
		// The Go backend's type is internal to GoMLX: its field is read by name.
		return reflect.ValueOf(b.Compute).Elem().FieldByName("NumExecutors").Int()
	}
	if got, want := executors("go"), int64(runtime.GOMAXPROCS(0)); got != want {
		t.Errorf("go: %d executors, want %d (GOMAXPROCS)", got, want)
	}
	if got := executors("go:num_executors=3"); got != 3 {
		t.Errorf("go:num_executors=3: %d executors", got)
	}
	if got, want := executors("go:ops_sequential"), int64(runtime.GOMAXPROCS(0)); got != want {
		t.Errorf("go:ops_sequential: %d executors, want %d", got, want)
	}
}
