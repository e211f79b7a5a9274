#include "tests/e2e/server_fixture.h"

#include <future>
#include <latch>
#include <stdexcept>
#include <thread>

#include <grpcpp/generic/generic_stub.h>
#include <catch2/catch.hpp>

namespace radial::e2e {
namespace {

using Clock = std::chrono::steady_clock;

std::string dump(const grpc::ByteBuffer& buf) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buf.Dump(&slices).ok()) return out;
  for (const auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

grpc::ByteBuffer to_buffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

// A length-delimited protobuf field (tag < 16, length < 128).
std::string string_field(int tag, const std::string& s) {
  std::string out;
  out.push_back(static_cast<char>((tag << 3) | 2));
  out.push_back(static_cast<char>(s.size()));
  return out + s;
}

void collect_tokens(const pb::GenerateResponse& m, Generation& g) {
  g.text += m.text();
  for (const auto& t : m.tokens()) {
    g.ids.push_back(t.id());
    g.paths.emplace_back(t.path().begin(), t.path().end());
    g.depths.push_back(t.depth());
  }
}

}  // namespace

std::string radiald_binary() { return RADIALD_BINARY; }
std::string source_dir() { return RADIAL_SOURCE_DIR; }
std::string model_dir() { return source_dir() + "/models/stories260K"; }

pb::GenerateRequest text_request(const std::string& text, uint32_t max_tokens) {
  pb::GenerateRequest r;
  r.set_text(text);
  r.set_max_tokens(max_tokens);
  return r;
}

pb::GenerateRequest ids_request(const std::vector<int>& ids, uint32_t max_tokens) {
  pb::GenerateRequest r;
  for (int id : ids) r.mutable_token_ids()->add_ids(id);
  r.set_max_tokens(max_tokens);
  return r;
}

std::string describe(const grpc::Status& st) {
  return std::to_string(st.error_code()) + " " + st.error_message();
}

const char* const kSlowModelConfig = R"({
  "architectures": ["LlamaForCausalLM"], "model_type": "llama",
  "hidden_size": 256, "intermediate_size": 768, "num_hidden_layers": 8,
  "num_attention_heads": 8, "num_key_value_heads": 2, "vocab_size": 512,
  "max_position_embeddings": 2048, "rms_norm_eps": 1e-05, "rope_theta": 10000.0,
  "tie_word_embeddings": true, "hidden_act": "silu", "bos_token_id": 1,
  "eos_token_id": 2, "torch_dtype": "float32"})";

std::string Server::metrics() const { return http_get(metrics_port, "/metrics").value_or(""); }

std::unique_ptr<Server> start_server(const std::string& name, const std::vector<std::string>& args,
                                     const std::string& dir, int grpc_port, int metrics_port) {
  const bool fixed = grpc_port != 0 && metrics_port != 0;
  std::string last_log;
  for (int attempt = 0; attempt < (fixed ? 1 : 5); ++attempt) {
    auto s = std::make_unique<Server>();
    if (fixed) {
      s->grpc_port = grpc_port;
      s->metrics_port = metrics_port;
    } else {
      s->grpc_port = free_port();
      do s->metrics_port = free_port();
      while (s->metrics_port == s->grpc_port);
    }
    std::vector<std::string> argv = {radiald_binary(),
                                     "--listen",
                                     s->address(),
                                     "--metrics-listen",
                                     "127.0.0.1:" + std::to_string(s->metrics_port),
                                     "--threads",
                                     "1"};
    argv.insert(argv.end(), args.begin(), args.end());
    const std::string log = dir + "/" + name + "-" + std::to_string(attempt) + ".log";
    s->proc = std::make_unique<Subprocess>(argv, log);
    // Short reconnect backoff: the first calls find no listener yet.
    grpc::ChannelArguments ch_args;
    ch_args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
    ch_args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 50);
    ch_args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 250);
    s->channel =
        grpc::CreateCustomChannel(s->address(), grpc::InsecureChannelCredentials(), ch_args);
    s->stub = pb::Radial::NewStub(s->channel);
    const auto end = Clock::now() + std::chrono::seconds(90);
    bool clash = false;
    while (Clock::now() < end) {
      if (!s->proc->running()) {
        last_log = s->proc->log();
        clash = last_log.find("cannot listen") != std::string::npos ||
                last_log.find("cannot serve metrics") != std::string::npos;
        break;
      }
      if (health(s->channel, "radial.v1.Radial") == 1) return s;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!clash) {
      if (s->proc->running()) last_log = s->proc->log() + "\n(not SERVING after 90 s)";
      break;
    }
  }
  throw std::runtime_error("radiald " + name + " did not start:\n" + last_log);
}

int health(const std::shared_ptr<grpc::Channel>& ch, const std::string& service,
           grpc::Status* status) {
  grpc::GenericStub stub(ch);
  const grpc::ByteBuffer in = to_buffer(service.empty() ? "" : string_field(1, service));
  grpc::ByteBuffer out;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &in, &out,
                 [&](grpc::Status s) { done.set_value(std::move(s)); });
  const grpc::Status st = done.get_future().get();
  if (status != nullptr) *status = st;
  if (!st.ok()) return -1;
  const std::string bytes = dump(out);  // HealthCheckResponse{status = 1 (varint)}
  if (bytes.size() >= 2 && bytes[0] == 0x08) return static_cast<unsigned char>(bytes[1]);
  return 0;
}

std::string reflection_list_services(const std::shared_ptr<grpc::Channel>& ch) {
  grpc::GenericStub stub(ch);
  grpc::CompletionQueue cq;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  auto call =
      stub.PrepareCall(&ctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* tag = nullptr;
  bool ok = false;
  auto next = [&] { return cq.Next(&tag, &ok) && ok; };
  std::string answer;
  call->StartCall(reinterpret_cast<void*>(1));
  if (next()) {
    // ServerReflectionRequest{list_services = 7: ""}
    call->Write(to_buffer(std::string("\x3a\x00", 2)), reinterpret_cast<void*>(2));
    next();
    call->WritesDone(reinterpret_cast<void*>(3));
    next();
    grpc::ByteBuffer resp;
    call->Read(&resp, reinterpret_cast<void*>(4));
    if (next()) answer = dump(resp);
  }
  grpc::Status st;
  call->Finish(&st, reinterpret_cast<void*>(5));
  cq.Next(&tag, &ok);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return answer;
}

Generation generate_stream(pb::Radial::Stub& stub, const pb::GenerateRequest& req,
                           std::chrono::milliseconds timeout) {
  Generation g;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  auto reader = stub.Generate(&ctx, req);
  pb::GenerateResponse m;
  while (reader->Read(&m)) {
    if (g.messages == 0) g.first_request_id = m.request_id();
    ++g.messages;
    if (m.tokens_size() > 1) g.one_token_per_message = false;
    collect_tokens(m, g);
    g.last = m;
  }
  g.status = reader->Finish();
  return g;
}

std::vector<Generation> generate_together(pb::Radial::Stub& stub,
                                          const std::vector<pb::GenerateRequest>& reqs) {
  std::vector<Generation> out(reqs.size());
  std::latch start(static_cast<std::ptrdiff_t>(reqs.size()));
  std::vector<std::thread> threads;
  for (size_t i = 0; i < reqs.size(); ++i)
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      out[i] = generate_stream(stub, reqs[i]);
    });
  for (auto& t : threads) t.join();
  return out;
}

void check_same_as_solo(const Generation& got, const Generation& solo) {
  REQUIRE(got.status.ok());
  CHECK(got.ids == solo.ids);
  CHECK(got.paths == solo.paths);
  CHECK(got.text == solo.text);
  CHECK(got.last.finish_reason() == solo.last.finish_reason());
  CHECK(got.last.usage().layer_steps_skipped() == solo.last.usage().layer_steps_skipped());
}

Generation generate_unary(pb::Radial::Stub& stub, const pb::GenerateRequest& req,
                          std::chrono::milliseconds timeout) {
  Generation g;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  pb::GenerateResponse resp;
  g.status = stub.GenerateUnary(&ctx, req, &resp);
  if (g.status.ok()) {
    collect_tokens(resp, g);
    g.last = resp;
    g.messages = 1;
  }
  return g;
}

std::optional<double> wait_metric(const Server& s, const std::string& name,
                                  const std::map<std::string, std::string>& labels, double want,
                                  std::chrono::milliseconds timeout) {
  const auto end = Clock::now() + timeout;
  std::optional<double> v;
  for (;;) {
    v = metric_value(s.metrics(), name, labels);
    if ((v && *v == want) || Clock::now() >= end) return v;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace radial::e2e
