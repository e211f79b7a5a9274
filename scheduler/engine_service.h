// The serving core, transport-free: loads a model, owns the engine, the
// scheduler and the one engine loop thread that does all the work. Front
// ends (gRPC, the HTTP API, tests) only call the thread-safe methods below.
// submit() validates on the caller's thread (RequestValidator: everything it
// reads is fixed after start-up), queues, and returns at once with the
// request's RequestStream: token events, then exactly one final result.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "engine/backend.h"
#include "engine/chat/chat_template.h"
#include "engine/model_bundle.h"
#include "scheduler/observer.h"
#include "scheduler/request.h"
#include "scheduler/request_stream.h"
#include "scheduler/request_validator.h"
#include "scheduler/scheduler.h"

namespace radial {

struct ServiceOptions {
  ModelSource model;
  BackendOptions backend;  // kv_blocks / max_slots / threads
  // Makes the backend (kernels/backend_factory.h makes one from a choice);
  // empty: the CPU backend.
  BackendFactory backend_factory;
  SchedulerOptions scheduler;
  ServingLimits limits;
};

struct ModelInfo {
  std::string name;        // description of what was loaded
  std::string model_type;  // llama | mistral | qwen2
  int num_layers = 0;
  int hidden_size = 0;
  int context_length = 0;
  int vocab_size = 0;
  bool has_router = false;
  bool has_tokenizer = false;
  std::string tokenizer_kind;  // "sentencepiece" | "tokenizer.json" | "" (none)
  int tokenizer_vocab_size = 0;
  bool has_chat_template = false;
  std::string routing_mode;                // the default: the router's mode, or "full"
  std::vector<std::string> routing_modes;  // what requests may ask for
  std::string kv_policy;                   // of the default routing
  float threshold = 0;                     // forward routers' default
  int max_steps = 0;                       // radial routers
  int bos_token_id = 1;
  std::vector<int> eos_token_ids;
  // Special tokens as text, "" where there is none: tokenizer_config.json's
  // (with a chat template), else the tokenizer's text of the BOS id and of
  // the first EOS id. chat_template: its source ("" without one).
  std::string bos_token, eos_token, pad_token;
  std::string chat_template;
};

struct ServiceStats {
  int waiting = 0;
  int running = 0;
  int kv_blocks_used = 0;
  int kv_blocks_total = 0;
  int kv_blocks_cached = 0;  // in the prefix cache (held by requests or not)
  uint64_t steps = 0;
  bool draining = false;
};

class EngineService {
 public:
  // Loads the model and starts the engine loop. Throws Error on load errors.
  // `observer` (may be null) must outlive the service.
  EngineService(const ServiceOptions& opts, SchedulerObserver* observer = nullptr);
  // Cancels whatever is still in flight (each gets its final callback) and
  // joins the engine loop.
  ~EngineService();
  EngineService(const EngineService&) = delete;
  EngineService& operator=(const EngineService&) = delete;

  const ModelInfo& model_info() const { return info_; }
  const ServingLimits& limits() const { return limits_; }

  // Thread-safe text helpers. Throw Error(kInvalidArgument) when the model
  // has no tokenizer, an id is outside the vocabulary, or text is not UTF-8.
  // tokenize() refuses text longer than limits().max_text_bytes before any
  // work (a prompt that long cannot fit the context), and at most
  // kMaxConcurrentTokenize calls run at once; a caller waiting for its turn
  // gives up with Error(kCancelled) as soon as `cancelled` (if set) says so.
  std::vector<int> tokenize(std::string_view text, bool add_bos = true,
                            const std::function<bool()>& cancelled = nullptr) const;
  // Text of `ids`; special tokens are left out unless skip_special is false
  // (then they appear as their text, "<s>", "<|eot_id|>").
  std::string detokenize(const std::vector<int>& ids, bool skip_special = true) const;
  // The raw bytes token `id` adds after `prev` (prev < 0: at the start).
  std::string token_piece(int prev, int id) const;
  // Renders a chat (a JSON array of messages) with the model's chat template
  // (Error(kInvalidArgument) when it has none or the template raises).
  std::string render_chat(const nlohmann::ordered_json& messages,
                          const ChatRenderOptions& options) const;
  static constexpr int kMaxConcurrentTokenize = 4;

  // Thread-safe: validates the request on the calling thread (throws
  // Error(kInvalidArgument) naming the problem, even when the queue is
  // full), then Error(kResourceExhausted) when the queue is full or
  // Error(kUnavailable) while draining; otherwise queues it and returns its
  // stream at once. The stream then delivers exactly one final result,
  // whatever happens (a stream dropped early cancels its request).
  // Streams must not outlive the service.
  std::unique_ptr<RequestStream> submit(GenerateRequest req);
  // Thread-safe, asynchronous: the sequence finishes with kCancelled within
  // one engine step (no-op for unknown or finished ids). RequestStream's
  // cancel() calls it.
  void cancel(uint64_t id);
  ServiceStats stats() const;

  // Stops accepting requests (submit throws kUnavailable) and waits up to
  // `timeout` for those in flight to finish; returns true if they all did.
  bool drain(std::chrono::milliseconds timeout);

 private:
  struct Loop;
  ServingLimits limits_;
  ModelBundle bundle_;
  mutable std::mutex tokenize_mu_;
  mutable std::condition_variable tokenize_cv_;
  mutable int tokenizing_ = 0;
  ModelInfo info_;
  std::unique_ptr<Loop> loop_;
};

}  // namespace radial
