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
// Concurrent predictions are batched: images queued while the model is busy, or
// arriving within Config.MaxWait while other requests are still being read, go
// through the model together (at most Config.MaxBatch, cut to a power of two, as the
// model pads batches to one), in one train.Model.PredictBatch call. An explanation's
// classes go through the same batches; its saliency map (a forward and a backward
// pass) is computed outside them, at most GOMAXPROCS at once: the others wait.
//
// The server watches the checkpoint folder (every Config.Poll) and, when a newer
// epoch appears (a notebook or cmd/walkthrough trained more), loads it, warms it up
// and swaps it in atomically: requests already batched finish on the old model, the
// next batches use the new one.
//
// Every answer that is not a success is JSON, {"error": "...", "request_id": "..."},
// with a status that says what was wrong: 400 for a malformed request, 404, 405, 413
// for a body or an image over the limits (an image's size is read from its header,
// before decoding), 415 for a body that is not a supported image, 503 when
// overloaded or shutting down.
package serve

//go:generate go run gen_samples.go
