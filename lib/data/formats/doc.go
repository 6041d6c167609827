// Package formats reads and writes the file formats image datasets come in, each
// reader bounded against lying headers and fuzzed:
//   - image folders root/<class>/<image> (the article's Dataset, torchvision's
//     ImageFolder): LoadFolder, SaveFolder;
//   - single images, PNG, JPEG, GIF, BMP or WebP, refused from their header when over
//     a pixel limit: DecodeImage, ReadImageFile;
//   - MNIST-style IDX files, gzipped or not: LoadIDX, LoadMNISTStyle, WriteIDX;
//   - CIFAR-10's binary records: ReadCIFAR, LoadCIFARBatches, WriteCIFAR;
//   - tar.gz archives as datasets are published: ExtractTarGz.
//
// Each returns a data.Dataset, or an error naming the file and what was expected.
// Nothing is printed: LoadFolder reports what it skipped and resized.
package formats
