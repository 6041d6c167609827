package embedded

import "testing"

func TestEmbeddedIsBalancedFashionMNIST(t *testing.T) {
	train, test, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 6000 || test.Len() != 1000 || train.Height != 28 || train.Channels != 1 {
		t.Fatalf("got %d/%d images of %dx%dx%d", train.Len(), test.Len(), train.Height, train.Width, train.Channels)
	}
	for c, n := range train.ClassCounts() {
		if n != 600 {
			t.Errorf("class %s: %d training images, want 600", train.Classes[c], n)
		}
	}
	for c, n := range test.ClassCounts() {
		if n != 100 {
			t.Errorf("class %s: %d test images, want 100", test.Classes[c], n)
		}
	}
}
