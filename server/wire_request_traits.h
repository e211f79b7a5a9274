// How gRPC reads radiald's request messages off the wire.
//
// gRPC's generic protobuf deserializer answers a message that fails to parse
// with INTERNAL and an empty message, and protobuf writes an unthrottled
// error line to stderr for each string field that is not valid UTF-8 (proto3
// checks them on parse), before any authentication. For the request types
// below this full specialization replaces it: a string field that is not
// UTF-8 is INVALID_ARGUMENT naming the field, counted and logged through
// set_wire_rejection_hook(), and nothing reaches stderr. Valid messages parse
// exactly as before (wire-compatible: no client changes).
//
// The specializations must be seen wherever gRPC's templates are
// instantiated for these types (one definition everywhere):
// server/CMakeLists.txt force-includes this header into every C++ file of
// radial_proto and of every target that links it. Serialization is gRPC's
// own; a response that is not UTF-8 reads as INVALID_ARGUMENT on a client.
#pragma once

#include <grpcpp/impl/codegen/proto_utils.h>

#include <string>

#include "radial/v1/radial.pb.h"

namespace radial::server {

// Parses `buffer` into `msg` (and clears the buffer, as gRPC's does).
// INVALID_ARGUMENT "<Message>.<field> is not valid UTF-8" when a string
// field is not UTF-8; INTERNAL "request does not parse" otherwise.
grpc::Status deserialize_request(grpc::ByteBuffer* buffer, grpc::protobuf::MessageLite* msg);

// Called (on a gRPC thread) for each request refused while deserializing,
// with its status; set once by the server before it starts.
using WireRejectionHook = void (*)(const grpc::Status& status);
void set_wire_rejection_hook(WireRejectionHook hook);

}  // namespace radial::server

#define RADIAL_WIRE_REQUEST_TRAITS(Type)                                                    \
  template <>                                                                               \
  class grpc::SerializationTraits<Type, void> {                                             \
   public:                                                                                  \
    static grpc::Status Serialize(const grpc::protobuf::MessageLite& msg, ByteBuffer* bb,   \
                                  bool* own_buffer) {                                       \
      return grpc::GenericSerialize<grpc::ProtoBufferWriter, Type>(msg, bb, own_buffer);    \
    }                                                                                       \
    static grpc::Status Deserialize(ByteBuffer* buffer, grpc::protobuf::MessageLite* msg) { \
      return radial::server::deserialize_request(buffer, msg);                              \
    }                                                                                       \
  };

// Generated unary handlers (and stubs) go through MessageLite, streaming
// ones through the request type itself.
RADIAL_WIRE_REQUEST_TRAITS(grpc::protobuf::MessageLite)
RADIAL_WIRE_REQUEST_TRAITS(radial::v1::GenerateRequest)
RADIAL_WIRE_REQUEST_TRAITS(radial::v1::TokenizeRequest)
RADIAL_WIRE_REQUEST_TRAITS(radial::v1::ModelInfoRequest)

#undef RADIAL_WIRE_REQUEST_TRAITS
