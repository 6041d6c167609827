package fetch_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/gopherdl/gopherdl/lib/data/fetch"
)

// Download a file, checked against its SHA-256, into a cache folder; a second Fetch
// finds it there.
func Example() {
	content := []byte("a dataset's bytes")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(content) }))
	defer srv.Close()
	sum := sha256.Sum256(content)
	src := fetch.Source{Name: "tiny", Install: "put data.bin there by hand",
		Files: []fetch.RemoteFile{{Name: "data.bin", URL: srv.URL + "/data.bin", SHA256: hex.EncodeToString(sum[:])}}}

	cache, _ := os.MkdirTemp("", "gopherdl-cache-")
	defer os.RemoveAll(cache)
	dir, err := fetch.Fetch(context.Background(), src, fetch.Options{CacheDir: cache})
	if err != nil {
		fmt.Println(err)
		return
	}
	b, _ := os.ReadFile(filepath.Join(dir, "data.bin"))
	fmt.Printf("%s: %q\n", filepath.Base(dir), b)
	// Output:
	// tiny: "a dataset's bytes"
}
