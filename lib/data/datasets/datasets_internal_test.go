package datasets

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/data/fetch"
	"github.com/gopherdl/gopherdl/lib/data/formats"
)

func synthRGB(n int) *data.Dataset {
	d := &data.Dataset{Name: "synth", Height: 32, Width: 32, Channels: 3, Classes: CIFAR10Classes()}
	for i := range n {
		for p := range 32 * 32 * 3 {
			d.Pixels = append(d.Pixels, uint8((i*31+p*7)%256))
		}
		d.Labels = append(d.Labels, int32(i%10))
	}
	return d
}

func TestFetchUnpacksCIFARArchive(t *testing.T) {
	d := synthRGB(10)
	tmp := t.TempDir()
	var tgz bytes.Buffer
	gz := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(gz)
	for _, f := range []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"} {
		p := filepath.Join(tmp, f)
		if err := formats.WriteCIFAR(d, p); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(p)
		tw.WriteHeader(&tar.Header{Name: "cifar-10-batches-bin/" + f, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg})
		tw.Write(b)
	}
	meta := []byte(strings.Join(CIFAR10Classes(), "\n") + "\n")
	tw.WriteHeader(&tar.Header{Name: "cifar-10-batches-bin/batches.meta.txt", Mode: 0o644, Size: int64(len(meta)), Typeflag: tar.TypeReg})
	tw.Write(meta)
	tw.Close()
	gz.Close()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write(tgz.Bytes())
	}))
	defer srv.Close()
	sum := md5.Sum(tgz.Bytes())
	r := remote{extractDir: "cifar-10-batches-bin", src: fetch.Source{Name: "cifar10",
		Files: []fetch.RemoteFile{{Name: "cifar-10-binary.tar.gz", URL: srv.URL + "/cifar-10-binary.tar.gz", MD5: hex.EncodeToString(sum[:])}}}}
	cache := t.TempDir()
	dir, err := r.fetch(context.Background(), fetch.Options{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	train, test, err := LoadCIFAR10(dir)
	if err != nil || train.Len() != 50 || test.Len() != 10 || !bytes.Equal(test.Pixels, d.Pixels) {
		t.Fatalf("CIFAR from the archive: %v", err)
	}
	// Unpacked once: a second fetch finds the folder.
	if again, err := r.fetch(context.Background(), fetch.Options{CacheDir: cache}); err != nil || again != dir || hits.Load() != 1 {
		t.Errorf("second fetch: %q, %v, %d requests: want the same folder and no request", again, err, hits.Load())
	}
}

func TestFetchRefusesUnknownNames(t *testing.T) {
	_, err := Fetch(context.Background(), "imagenet", fetch.Options{CacheDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), `unknown dataset "imagenet"`) {
		t.Errorf("Fetch(imagenet): %v", err)
	}
	for _, name := range []string{"fashion-mnist", "mnist", "cifar10"} {
		r, ok := published(name)
		if !ok || len(r.src.Files) == 0 || r.src.Install == "" {
			t.Errorf("%s: no files or no offline advice", name)
		}
		for _, f := range r.src.Files {
			if f.SHA256 == "" && f.MD5 == "" {
				t.Errorf("%s: %s has no checksum", name, f.Name)
			}
		}
	}
}
