package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/gin-gonic/gin/binding"
	"github.com/go-playground/validator/v10"
)

// The request bodies (chapter 01's). Validation lives in the tags, next to the fields it guards, so a handler
// never sees a body that breaks them. `required` on a number means "not zero", so counts that may be
// zero (stock) use min=0 alone.

type createUserRequest struct {
	Name  string `json:"name" binding:"required,max=100"`
	Email string `json:"email" binding:"required,email,max=255"`
}

type createProductRequest struct {
	Name       string `json:"name" binding:"required,max=100"`
	PriceCents int64  `json:"price_cents" binding:"min=1"`
	Stock      int    `json:"stock" binding:"min=0"`
}

type itemRequest struct {
	ProductID int64 `json:"product_id" binding:"min=1"`
	Quantity  int   `json:"quantity" binding:"min=1"`
}

type createOrderRequest struct {
	UserID int64         `json:"user_id" binding:"min=1"`
	Items  []itemRequest `json:"items" binding:"required,min=1,dive"`
}

type payRequest struct {
	AmountCents int64 `json:"amount_cents" binding:"min=1"`
}

// Make the validator name fields by their JSON names, which is what the client sent. Without this
// it reports Go names ("Email"), which mean nothing to an API client.
func init() {
	if v, ok := binding.Validator.Engine().(*validator.Validate); ok {
		v.RegisterTagNameFunc(func(f reflect.StructField) string {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				return ""
			}
			return name
		})
	}
}

// bindJSON decodes and validates the body into dst. When it fails it has already answered 400 and
// returns false.
func bindJSON(c *gin.Context, dst any) bool {
	err := c.ShouldBindJSON(dst)
	if err == nil {
		return true
	}
	body := errorBody{Error: "invalid request"}
	var verrs validator.ValidationErrors
	var typeErr *json.UnmarshalTypeError
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		c.AbortWithStatusJSON(http.StatusRequestEntityTooLarge, errorBody{Error: "request body too large"})
		return false
	case errors.As(err, &verrs):
		body.Fields = make(map[string]string, len(verrs))
		for _, fe := range verrs {
			body.Fields[jsonPath(fe)] = message(fe)
		}
	case errors.As(err, &typeErr) && typeErr.Field != "":
		body.Fields = map[string]string{typeErr.Field: "must be a " + typeErr.Type.String()}
	default:
		body.Error = "malformed JSON body"
	}
	c.AbortWithStatusJSON(http.StatusBadRequest, body)
	return false
}

// jsonPath drops the struct name that the validator puts first: "createOrderRequest.items[0].quantity"
// becomes "items[0].quantity".
func jsonPath(fe validator.FieldError) string {
	_, path, found := strings.Cut(fe.Namespace(), ".")
	if !found {
		return fe.Field()
	}
	return path
}

// message turns a failed rule into words for the client.
func message(fe validator.FieldError) string {
	switch fe.Tag() {
	case "required":
		return "is required"
	case "email":
		return "must be a valid email address"
	case "min":
		if fe.Kind() == reflect.Slice {
			return "must have at least " + fe.Param() + " element(s)"
		}
		return "must be at least " + fe.Param()
	case "max":
		return "must be at most " + fe.Param()
	default:
		return fmt.Sprintf("failed the %q rule", fe.Tag())
	}
}
