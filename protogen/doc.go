// Package protogen guards the course's generated protobuf code. It has no API: its tests
// regenerate every chapter's code with the generators pinned as `tool` directives in the root
// go.mod (buf, protoc-gen-go, protoc-gen-go-grpc) and fail, naming the file, when a committed
// file differs from what its .proto produces. The committed files are marked "DO NOT EDIT":
// change the .proto and regenerate instead, from the chapter directory:
//
//	go tool buf generate
package protogen
