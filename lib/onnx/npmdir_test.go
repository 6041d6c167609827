package onnx

import (
	"os"
	"path/filepath"
	"testing"
)

// A notebook run from a folder outside the repository (as docker/test.sh runs notebook
// 7 from /tmp/nb) still finds the repository's out/npm.
func TestNPMDirOutsideTheRepository(t *testing.T) {
	inside, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	want := NPMDir()
	if want != filepath.Join(filepath.Dir(filepath.Dir(inside)), "out", "npm") {
		t.Fatalf("NPMDir in %s = %q, want the repository's out/npm", inside, want)
	}
	t.Chdir(t.TempDir())
	if got := NPMDir(); got != want {
		t.Errorf("NPMDir outside the repository = %q, want %q (the repository this package was built from)", got, want)
	}
}
