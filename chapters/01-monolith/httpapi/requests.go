package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// The request bodies. Gin validates them with go-playground/validator through `binding` tags.
// TODO(01-http-api): add binding tags so that bad input never reaches the store:
//   - createUserRequest: name required (at most 100 characters), email required, a valid address
//     and at most 255 characters;
//   - createProductRequest: name required (at most 100 characters), price_cents at least 1, stock at least 0;
//   - createOrderRequest: user_id at least 1, items required with at least one item, and each item
//     validated too (`dive`): product_id at least 1, quantity at least 1;
//   - payRequest: amount_cents at least 1.
//   The length limits are the sizes of the database columns (VARCHAR(100), VARCHAR(255)): a longer value
//   must be a 400 for that field here, not a 500 from MySQL later.

type createUserRequest struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

type createProductRequest struct {
	Name       string `json:"name"`
	PriceCents int64  `json:"price_cents"`
	Stock      int    `json:"stock"`
}

type itemRequest struct {
	ProductID int64 `json:"product_id"`
	Quantity  int   `json:"quantity"`
}

type createOrderRequest struct {
	UserID int64         `json:"user_id"`
	Items  []itemRequest `json:"items"`
}

type payRequest struct {
	AmountCents int64 `json:"amount_cents"`
}

// bindJSON decodes and validates the body into dst. When it fails it has already answered 400 and
// returns false.
func bindJSON(c *gin.Context, dst any) bool {
	err := c.ShouldBindJSON(dst)
	if err == nil {
		return true
	}
	// TODO(01-http-api): a client needs to know WHICH fields are wrong. Answer 400 with
	// errorBody.Fields keyed by the JSON path of each bad field ("email", "items[0].quantity"; not the
	// Go name "Email") in both of these cases:
	//   - a rule in the binding tags failed (err is a validator.ValidationErrors);
	//   - a value has the wrong JSON type ("price_cents": "cheap"): the decoder fails before any rule
	//     runs (err is a *json.UnmarshalTypeError), and that is a field error too, for the field it names.
	// Each field's message tells the client what to fix: "is required", "must be at least 1" for a
	// number, but "must have at least 1 element(s)" for a list (the same min rule; fe.Kind() tells them apart).
	// Any other error (broken JSON) is a plain 400 without fields. Hint: register a tag-name function
	// on the validator behind binding.Validator.Engine() so that it reports JSON names.
	c.AbortWithStatusJSON(http.StatusBadRequest, errorBody{Error: err.Error()})
	return false
}
