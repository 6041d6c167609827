// Package serve puts a trained model behind HTTP: step 5 of the walkthrough,
// deployment with monitoring.
//
// A Server loads the newest checkpoint of a checkpoint folder (train.Load), and
// answers:
//
//	POST /v1/predict   one image as the body, or multipart/form-data "image" files:
//	                   the classes, most probable first (?top=k, default 5; 0: all)
//	POST /v1/explain   one image: its classes, the image as the model sees it and its
//	                   gradient saliency map (PNG data URLs)
//	GET  /v1/model     the model in use: checkpoint, classes, input shape, history
//	GET  /             a page to drop an image on and see the classes and saliency
//	GET  /healthz      200 while the process runs
//	GET  /readyz       200 while a model is loaded and the server is not draining
//	GET  /metrics      Prometheus metrics
//
// The answers' JSON types are in package api; package client calls a server from Go.
//
// Concurrent predictions are batched: images queued while the model is busy, or
// arriving within Config.MaxWait while other requests are still being read, go
// through the model together (at most Config.MaxBatch, cut to a power of two, as the
// model pads batches to one). An explanation is one model call of its own, classes
// and saliency map from one forward pass (the batch's inference graph keeps no
// activations for a backward pass), at most Config.MaxExplains at once, beside the
// batches.
//
// Memory is bounded by bytes, not by connections: a request body is read only once
// its size is held in a budget of Config.MaxMemory bytes, and an image is decoded
// only once its decoded size, read from its header, is held too. A request waits up
// to Config.MemoryWait for its share, then gets 503 with Retry-After.
//
// The server watches the checkpoint folder (every Config.Poll) and, when its newest
// epoch folder is not the one served (a notebook or cmd/walkthrough trained more),
// loads it, warms it up and swaps it in atomically: calls already running finish on
// the old model, which is closed after its last one.
//
// Every answer that is not a success is JSON, {"error": "...", "request_id": "..."},
// with a status that says what was wrong: 400 for a malformed request, 404, 405, 413
// for a body or an image over the limits (an image's size is read from its header,
// before decoding), 415 for a body that is not a supported image, 500 when the model
// fails (NaN outputs included), 503 when busy or shutting down.
package serve

//go:generate go run gen_samples.go
