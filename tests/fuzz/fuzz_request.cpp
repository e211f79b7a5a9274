// libFuzzer target: the request-validation path of radiald without gRPC's
// transport. The input is the wire bytes of a radial.v1.GenerateRequest (as
// gRPC hands them to the service): parsed by protobuf, then exactly what
// the Generate handler does: check_request_id, to_engine_request (prompt
// tokenization / id checks, defaults) and EngineService::submit (the limits,
// then the scheduler's own checks), on models/stories260K with its router
// and tokenizer. An accepted request's stream is cancelled at once and its
// final result awaited, so every input ends before the next starts; a
// rejected one must be a radial::Error.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <google/protobuf/stubs/logging.h>

#include "engine/error.h"
#include "radial/v1/radial.pb.h"
#include "scheduler/engine_service.h"
#include "server/convert.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

radial::EngineService& service() {
  static radial::EngineService* s = [] {
    // Invalid UTF-8 in a string field is a parse failure; protobuf's log
    // line about it is noise here.
    google::protobuf::SetLogHandler(nullptr);
    radial::ServiceOptions o;
    o.model.model = radial::fuzz::model_dir();
    o.backend.threads = 1;
    o.backend.kv_blocks = 2048;
    o.backend.max_slots = 1024;
    o.limits.max_prompt_tokens = 256;
    o.limits.max_tokens = 512;
    o.limits.max_queued = 64;
    o.limits.max_stop_strings = 4;
    o.limits.max_stop_length = 64;
    return new radial::EngineService(o);  // leaked: lives until exit
  }();
  return *s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  radial::v1::GenerateRequest in;
  if (!in.ParseFromArray(data, static_cast<int>(size))) return 0;  // gRPC: INTERNAL, never here
  try {
    radial::server::check_request_id(in.request_id());
    radial::GenerateRequest req = radial::server::to_engine_request(in, service());
    std::unique_ptr<radial::RequestStream> stream = service().submit(std::move(req));
    stream->cancel();
    // A cancelled request must end within a step: its final result comes.
    const auto deadline = radial::RequestStream::Clock::now() + std::chrono::seconds(30);
    std::vector<radial::GeneratedToken> tokens;
    radial::SequenceResult result;
    for (;;) {
      const auto next = stream->next(&tokens, &result, deadline);
      if (next == radial::RequestStream::Next::kFinished) break;
      if (next == radial::RequestStream::Next::kTimeout) __builtin_trap();
      tokens.clear();
    }
  } catch (const radial::Error&) {
  }
  return 0;
}
