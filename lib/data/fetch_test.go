package data

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// idxFiles returns real-format gzipped IDX files of a small dataset.
func idxFiles(t *testing.T) map[string][]byte {
	d := &Dataset{Name: "tiny", Height: 4, Width: 3, Channels: 1, Classes: DigitClasses}
	for i := range 30 {
		for p := range 12 {
			d.Pixels = append(d.Pixels, uint8(i*12+p))
		}
		d.Labels = append(d.Labels, int32(i%10))
	}
	dir := t.TempDir()
	files := map[string][]byte{}
	for _, split := range []string{"train", "t10k"} {
		img := filepath.Join(dir, split+"-images-idx3-ubyte.gz")
		lab := filepath.Join(dir, split+"-labels-idx1-ubyte.gz")
		if err := WriteIDX(d, img, lab); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{img, lab} {
			b, _ := os.ReadFile(p)
			files[filepath.Base(p)] = b
		}
	}
	return files
}

// server serves files with range support and counts requests.
func server(files map[string][]byte, hits *atomic.Int32) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		b, ok := files[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, r.URL.Path, time.Time{}, bytes.NewReader(b))
	}))
}

func sourceFor(url string, files map[string][]byte, names ...string) Source {
	src := Source{Name: "tiny", Install: "install tiny"}
	for _, n := range names {
		src.Files = append(src.Files, RemoteFile{Name: n, URL: url + "/" + n, SHA256: sha(files[n])})
	}
	return src
}

func TestFetchDownloadsVerifiesAndCaches(t *testing.T) {
	files := idxFiles(t)
	var hits atomic.Int32
	srv := server(files, &hits)
	defer srv.Close()
	cache := t.TempDir()
	src := sourceFor(srv.URL, files, mnistStyleNames...)
	dir, err := FetchSource(context.Background(), src, FetchOptions{CacheDir: cache, Quiet: true})
	if err != nil {
		t.Fatal(err)
	}
	train, test, err := LoadMNIST(dir)
	if err != nil || train.Len() != 30 || test.Len() != 30 {
		t.Fatalf("loading the download: %v", err)
	}
	if hits.Load() != 4 {
		t.Errorf("%d requests, want 4", hits.Load())
	}
	if _, err := FetchSource(context.Background(), src, FetchOptions{CacheDir: cache, Quiet: true}); err != nil || hits.Load() != 4 {
		t.Errorf("second fetch: %v, %d requests: want the cache, no request", err, hits.Load())
	}
}

func TestFetchResumesPartialDownload(t *testing.T) {
	files := idxFiles(t)
	var hits atomic.Int32
	var ranges atomic.Int32
	inner := server(files, &hits)
	defer inner.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Range") != "" {
			ranges.Add(1)
		}
		inner.Config.Handler.ServeHTTP(w, r)
	}))
	defer srv.Close()
	cache := t.TempDir()
	name := mnistStyleNames[0]
	os.MkdirAll(filepath.Join(cache, "tiny"), 0o755)
	os.WriteFile(filepath.Join(cache, "tiny", name+".part"), files[name][:40], 0o644)
	if _, err := FetchSource(context.Background(), sourceFor(srv.URL, files, name), FetchOptions{CacheDir: cache, Quiet: true}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(cache, "tiny", name))
	if !bytes.Equal(got, files[name]) || ranges.Load() != 1 {
		t.Errorf("resumed file equal: %v, range requests: %d (want 1)", bytes.Equal(got, files[name]), ranges.Load())
	}
}

func TestFetchRejectsBadChecksum(t *testing.T) {
	files := idxFiles(t)
	var hits atomic.Int32
	srv := server(files, &hits)
	defer srv.Close()
	cache := t.TempDir()
	src := sourceFor(srv.URL, files, mnistStyleNames[0])
	src.Files[0].SHA256 = strings.Repeat("0", 64)
	_, err := FetchSource(context.Background(), src, FetchOptions{CacheDir: cache, Quiet: true})
	if err == nil || !strings.Contains(err.Error(), "SHA-256 checksum") || !strings.Contains(err.Error(), mnistStyleNames[0]) {
		t.Fatalf("error %v: want a checksum error naming the file", err)
	}
	if _, err := os.Stat(filepath.Join(cache, "tiny", mnistStyleNames[0])); err == nil {
		t.Error("a file with a bad checksum landed in the cache")
	}
}

func TestFetchOfflineSaysWhatToDo(t *testing.T) {
	files := idxFiles(t)
	var hits atomic.Int32
	srv := server(files, &hits)
	url := srv.URL
	srv.Close() // nothing listens there any more
	cache := t.TempDir()
	_, err := FetchSource(context.Background(), sourceFor(url, files, mnistStyleNames...), FetchOptions{CacheDir: cache, Quiet: true})
	if err == nil || !strings.Contains(err.Error(), "offline? put train-images-idx3-ubyte.gz") ||
		!strings.Contains(err.Error(), filepath.Join(cache, "tiny")) || !strings.Contains(err.Error(), "install tiny") {
		t.Fatalf("offline error %v", err)
	}
}

func TestFetchUnpacksCIFARArchive(t *testing.T) {
	d := synthRGB(10)
	tmp := t.TempDir()
	var tgz bytes.Buffer
	gz := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(gz)
	for _, f := range []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"} {
		p := filepath.Join(tmp, f)
		if err := WriteCIFAR(d, p); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(p)
		tw.WriteHeader(&tar.Header{Name: "cifar-10-batches-bin/" + f, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg})
		tw.Write(b)
	}
	meta := []byte(strings.Join(CIFAR10Classes, "\n") + "\n")
	tw.WriteHeader(&tar.Header{Name: "cifar-10-batches-bin/batches.meta.txt", Mode: 0o644, Size: int64(len(meta)), Typeflag: tar.TypeReg})
	tw.Write(meta)
	tw.Close()
	gz.Close()
	files := map[string][]byte{"cifar-10-binary.tar.gz": tgz.Bytes()}
	var hits atomic.Int32
	srv := server(files, &hits)
	defer srv.Close()
	sum := md5.Sum(tgz.Bytes())
	src := Source{Name: "cifar10", ExtractDir: "cifar-10-batches-bin",
		Files: []RemoteFile{{Name: "cifar-10-binary.tar.gz", URL: srv.URL + "/cifar-10-binary.tar.gz", MD5: hex.EncodeToString(sum[:])}}}
	dir, err := FetchSource(context.Background(), src, FetchOptions{CacheDir: t.TempDir(), Quiet: true})
	if err != nil {
		t.Fatal(err)
	}
	train, test, err := LoadCIFAR10(dir)
	if err != nil || train.Len() != 50 || test.Len() != 10 || !bytes.Equal(test.Pixels, d.Pixels) {
		t.Fatalf("CIFAR from the archive: %v", err)
	}
}
