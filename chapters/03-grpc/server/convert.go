package server

import (
	orderv1 "github.com/gomicrolab/microlab/chapters/03-grpc/gen/shop/order/v1"
	userv1 "github.com/gomicrolab/microlab/chapters/03-grpc/gen/shop/user/v1"
	"github.com/gomicrolab/microlab/chapters/03-grpc/shop"
)

// The transport owns the mapping between wire messages and domain types, so that neither the
// generated code nor the domain has to know about the other.

func userToProto(u shop.User) *userv1.User {
	return &userv1.User{Id: u.ID, Email: u.Email, Name: u.Name}
}

func orderToProto(o shop.Order) *orderv1.Order {
	return &orderv1.Order{
		Id:         o.ID,
		RequestId:  o.RequestID,
		UserId:     o.UserID,
		Sku:        o.SKU,
		Quantity:   int32(o.Quantity),
		TotalCents: o.TotalCents,
		Status:     statusToProto(o.Status),
	}
}

func statusToProto(s shop.OrderStatus) orderv1.OrderStatus {
	switch s {
	case shop.StatusPending:
		return orderv1.OrderStatus_ORDER_STATUS_PENDING
	case shop.StatusPaid:
		return orderv1.OrderStatus_ORDER_STATUS_PAID
	case shop.StatusCancelled:
		return orderv1.OrderStatus_ORDER_STATUS_CANCELLED
	}
	return orderv1.OrderStatus_ORDER_STATUS_UNSPECIFIED
}
