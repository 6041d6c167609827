package data

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
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

// fetchAfterPart fetches the first IDX file of a local server into a cache that
// holds part as the file's partial download, and returns what landed and the number
// of requests.
func fetchAfterPart(t *testing.T, part func(whole []byte) []byte) (got, want []byte, requests int32) {
	files := idxFiles(t)
	var hits atomic.Int32
	srv := server(files, &hits)
	defer srv.Close()
	cache := t.TempDir()
	name := mnistStyleNames[0]
	os.MkdirAll(filepath.Join(cache, "tiny"), 0o755)
	os.WriteFile(filepath.Join(cache, "tiny", name+".part"), part(bytes.Clone(files[name])), 0o644)
	if _, err := FetchSource(context.Background(), sourceFor(srv.URL, files, name), FetchOptions{CacheDir: cache, Quiet: true}); err != nil {
		t.Fatal(err)
	}
	got, _ = os.ReadFile(filepath.Join(cache, "tiny", name))
	return got, files[name], hits.Load()
}

// A part that is already whole (the process stopped after the last byte, before the
// rename) lands without a request: asking for the bytes after it would get HTTP 416.
func TestFetchCompletePartLandsWithoutARequest(t *testing.T) {
	got, want, requests := fetchAfterPart(t, func(whole []byte) []byte { return whole })
	if !bytes.Equal(got, want) || requests != 0 {
		t.Errorf("file equal: %v, %d requests: want the part renamed and no request", bytes.Equal(got, want), requests)
	}
}

// A part as long as the file but corrupt gets HTTP 416 for its range: the download
// starts over instead of failing every later run.
func TestFetchCorruptFullPartStartsOver(t *testing.T) {
	got, want, requests := fetchAfterPart(t, func(whole []byte) []byte { whole[len(whole)/2] ^= 0xff; return whole })
	if !bytes.Equal(got, want) || requests != 2 {
		t.Errorf("file equal: %v, %d requests: want a refused range, then the whole file", bytes.Equal(got, want), requests)
	}
}

// A server that stops sending mid-file is given up on after the idle timeout, and the
// part received is kept.
func TestFetchStalledServerTimesOut(t *testing.T) {
	files := idxFiles(t)
	name := mnistStyleNames[0]
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := files[name]
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		w.Write(b[:len(b)/2])
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	cache := t.TempDir()
	done := make(chan error, 1)
	go func() {
		_, err := FetchSource(context.Background(), sourceFor(srv.URL, files, name), FetchOptions{CacheDir: cache, Quiet: true, IdleTimeout: 300 * time.Millisecond})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "sent nothing for 300ms") || !strings.Contains(err.Error(), ".part to resume") {
			t.Errorf("stalled download: %v; want the idle timeout named and the part kept", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a stalled download still hangs after 20 s with a 300 ms idle timeout")
	}
	if st, err := os.Stat(filepath.Join(cache, "tiny", name+".part")); err != nil || st.Size() != int64(len(files[name])/2) {
		t.Errorf("the part received was not kept: %v", err)
	}
}

// An archive entry that would land outside the cache folder is refused.
func TestExtractRefusesEntriesOutsideTheFolder(t *testing.T) {
	dir := t.TempDir()
	archive := filepath.Join(dir, "evil.tar.gz")
	var tgz bytes.Buffer
	gz := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(gz)
	for _, name := range []string{"cifar-10-batches-bin/ok.bin", "cifar-10-batches-bin/../../escaped.bin"} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: 1, Typeflag: tar.TypeReg})
		tw.Write([]byte{1})
	}
	tw.Close()
	gz.Close()
	os.WriteFile(archive, tgz.Bytes(), 0o644)
	os.MkdirAll(filepath.Join(dir, "cache"), 0o755)
	err := extractTarGz(archive, filepath.Join(dir, "cache"), "cifar-10-batches-bin")
	if err == nil || !strings.Contains(err.Error(), "escapes the folder") {
		t.Errorf("extracting an entry with ../..: %v; want it refused", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "escaped.bin")); err == nil {
		t.Error("the escaping entry was written")
	}
}

// After HTTP 416 the download starts over with an idle timer of its own: a restart
// that keeps receiving is not stopped by the first request's timer.
func TestFetchRestartAfter416HasItsOwnIdleTimer(t *testing.T) {
	body := make([]byte, 10*1024)
	sum := sha256.Sum256(body)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Range") != "" {
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		for i := range 10 { // 1 KiB every 100 ms: never idle for 300 ms
			w.Write(body[i*1024 : (i+1)*1024])
			w.(http.Flusher).Flush()
			time.Sleep(100 * time.Millisecond)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	f := RemoteFile{Name: "x.bin", URL: srv.URL + "/x.bin", SHA256: hex.EncodeToString(sum[:])}
	os.MkdirAll(filepath.Join(dir, "src"), 0o755)
	os.WriteFile(filepath.Join(dir, "src", "x.bin.part"), make([]byte, 20*1024), 0o644) // longer than the file
	_, err := FetchSource(context.Background(), Source{Name: "src", Files: []RemoteFile{f}}, FetchOptions{CacheDir: dir, Quiet: true, IdleTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatalf("a download restarted after HTTP 416 failed while data kept arriving: %v", err)
	}
}
