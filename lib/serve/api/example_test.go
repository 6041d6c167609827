package api_test

import (
	"encoding/json"
	"fmt"

	"github.com/gopherdl/gopherdl/lib/serve/api"
)

// The answer of POST /v1/predict for one image sent as the body, as it goes on the
// wire.
func ExamplePredictResponse() {
	preds := []api.Prediction{{Class: "Sneaker", Index: 7, Probability: 0.811}, {Class: "Sandal", Index: 5, Probability: 0.175}}
	b, err := json.Marshal(api.PredictResponse{Model: "epoch-0010", Predictions: preds,
		Results: []api.Result{{Name: "", Predictions: preds}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(b))
	fmt.Println(preds[0])
	// Output:
	// {"model":"epoch-0010","predictions":[{"class":"Sneaker","index":7,"probability":0.811},{"class":"Sandal","index":5,"probability":0.175}],"results":[{"name":"","predictions":[{"class":"Sneaker","index":7,"probability":0.811},{"class":"Sandal","index":5,"probability":0.175}]}]}
	// Sneaker 81.1%
}

// An error answer.
func ExampleError() {
	b, _ := json.Marshal(api.Error{Error: "top=\"abc\": want a whole number >= 0", RequestID: "abc-123"})
	fmt.Println(string(b))
	// Output: {"error":"top=\"abc\": want a whole number \u003e= 0","request_id":"abc-123"}
}
