// End-to-end tests of radiald's transport security, authentication and the
// limits added for hostile clients: TLS (server certificate; mutual TLS with
// a client CA), the shared bearer token (UNAUTHENTICATED otherwise; the
// health service exempt), the plaintext health-only port, the per-connection
// stream limit, the deadline cap, the start-up warnings and the config
// errors. Certificates are made at test time with openssl (a throwaway CA,
// server and client certificates, and a second CA the server does not
// trust; security_fixture.cpp); nothing secret is committed.
#include <sys/stat.h>

#include <atomic>
#include <thread>

#include <grpcpp/security/credentials.h>
#include <catch2/catch.hpp>

#include "server/auth.h"
#include "tests/e2e/security_fixture.h"

namespace radial::e2e {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST_CASE("bearer token checks: constant-time compare, scheme, token file", "[security]") {
  using namespace radial::server;
  CHECK(constant_time_equal("abc", "abc"));
  CHECK_FALSE(constant_time_equal("abd", "abc"));
  CHECK_FALSE(constant_time_equal("ab", "abc"));
  CHECK_FALSE(constant_time_equal("abcd", "abc"));
  CHECK_FALSE(constant_time_equal("", "abc"));
  const std::string token = "tok-123";
  const std::string_view good = "Bearer tok-123", lower = "bearer tok-123",
                         wrong = "Bearer tok-124", basic = "Basic tok-123", bare = "Bearer ",
                         prefix = "Bearer tok-12";
  CHECK(check_bearer(&good, token) == AuthResult::kOk);
  CHECK(check_bearer(&lower, token) == AuthResult::kOk);
  CHECK(check_bearer(nullptr, token) == AuthResult::kMissing);
  CHECK(check_bearer(&wrong, token) == AuthResult::kWrongToken);
  CHECK(check_bearer(&prefix, token) == AuthResult::kWrongToken);
  CHECK(check_bearer(&basic, token) == AuthResult::kMalformed);
  CHECK(check_bearer(&bare, token) == AuthResult::kMalformed);
  // More than one value is refused, whichever is right.
  const std::vector<std::string_view> none, one = {good}, two = {good, wrong}, same = {good, good};
  CHECK(check_bearer_values(none, token) == AuthResult::kMissing);
  CHECK(check_bearer_values(one, token) == AuthResult::kOk);
  CHECK(check_bearer_values(two, token) == AuthResult::kRepeated);
  CHECK(check_bearer_values(same, token) == AuthResult::kRepeated);

  TempDir d;
  const std::string p = d.path() + "/t";
  write_file(p, "  \n");
  CHECK_THROWS_WITH(load_token_file(p), Catch::Contains("holds no token"));
  write_file(p, "has space\n");
  CHECK_THROWS_WITH(load_token_file(p), Catch::Contains("printable ASCII"));
  CHECK_THROWS_WITH(load_token_file(d.path() + "/missing"), Catch::Contains("cannot read"));
  write_file(p, "short\n");
  ::chmod(p.c_str(), 0644);
  std::string warning;
  CHECK(load_token_file(p, &warning) == "short");
  CHECK_THAT(warning, Catch::Contains("shorter than 16") && Catch::Contains("chmod 600"));
  write_file(p, "0123456789abcdef0123\n");
  ::chmod(p.c_str(), 0600);
  CHECK(load_token_file(p, &warning) == "0123456789abcdef0123");
  CHECK(warning.empty());
}

TEST_CASE("TLS + token: UNAUTHENTICATED without the token, health exempt", "[security]") {
  auto& f = SecurityFixture::get();
  SecureServer& s = f.tls_token();
  auto ch = tls_channel(s, f.dir());
  auto stub = pb::Radial::NewStub(ch);

  SECTION("plaintext to the TLS port fails") {
    auto plain = pb::Radial::NewStub(plaintext_channel(s.grpc_port));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    pb::ModelInfoResponse resp;
    const grpc::Status st = plain->ModelInfo(&ctx, pb::ModelInfoRequest(), &resp);
    CHECK(st.error_code() == grpc::StatusCode::UNAVAILABLE);
  }
  SECTION("a TLS client that does not trust the CA fails") {
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = read_text(f.dir() + "/rogue-ca.pem");
    auto other = pb::Radial::NewStub(grpc::CreateChannel(s.address(), grpc::SslCredentials(o)));
    const grpc::Status st = model_info_with(*other, "Bearer " + f.token());
    CHECK(st.error_code() == grpc::StatusCode::UNAVAILABLE);
  }
  SECTION("no, malformed or wrong token: UNAUTHENTICATED on every Radial method") {
    const Generation none = generate_with_token(*stub, small_request(), "");
    CHECK(none.status.error_code() == grpc::StatusCode::UNAUTHENTICATED);
    CHECK_THAT(none.status.error_message(), Catch::Contains("Bearer"));
    CHECK(none.messages == 0);
    const Generation wrong = generate_with_token(*stub, small_request(), "Bearer not-the-token");
    CHECK(wrong.status.error_code() == grpc::StatusCode::UNAUTHENTICATED);
    CHECK(wrong.status.error_message() == "invalid token");
    CHECK(model_info_with(*stub, "Basic " + f.token()).error_code() ==
          grpc::StatusCode::UNAUTHENTICATED);
    CHECK(model_info_with(*stub, "").error_code() == grpc::StatusCode::UNAUTHENTICATED);
    grpc::ClientContext ctx;
    pb::TokenizeRequest treq;
    treq.set_text("hello");
    pb::TokenizeResponse tresp;
    CHECK(stub->Tokenize(&ctx, treq, &tresp).error_code() == grpc::StatusCode::UNAUTHENTICATED);
    grpc::ClientContext uctx;
    pb::GenerateResponse uresp;
    CHECK(stub->GenerateUnary(&uctx, small_request(), &uresp).error_code() ==
          grpc::StatusCode::UNAUTHENTICATED);
    const auto n = wait_metric_text([&] { return s.metrics(); }, "radial_request_errors_total",
                                    {{"code", "UNAUTHENTICATED"}}, 6);
    CHECK(n.value_or(0) >= 6);
  }
  SECTION("the right token: generation works, over TLS") {
    const Generation g = generate_with_token(*stub, small_request(), "Bearer " + f.token());
    REQUIRE(g.status.ok());
    CHECK(g.ids.size() == 8);
    CHECK(model_info_with(*stub, "bearer " + f.token()).ok());
  }
  SECTION("health needs no token, on the TLS port and the plaintext health port") {
    CHECK(health(ch, "radial.v1.Radial") == 1);
    CHECK(health(plaintext_channel(s.health_port), "") == 1);
    // The health port serves nothing else.
    auto on_health = pb::Radial::NewStub(plaintext_channel(s.health_port));
    CHECK(model_info_with(*on_health, "Bearer " + f.token()).error_code() ==
          grpc::StatusCode::UNIMPLEMENTED);
    // Reflection is off when a token is required, and never on the health port.
    CHECK(reflection_list_services(ch).empty());
    CHECK(reflection_list_services(plaintext_channel(s.health_port)).empty());
  }
  SECTION("radial generate --server with --tls-ca and --token-file / RADIAL_TOKEN") {
    const std::string cli = RADIAL_CLI_BINARY;
    const CommandResult ok = run_command(
        {cli, "generate", "--server", s.address(), "--tls-ca", f.dir() + "/ca.pem", "--token-file",
         f.token_path(), "--prompt-ids", "1", "--max-tokens", "4", "--ignore-eos", "--json"},
        "/dev/null", 60s);
    INFO("radial generate output:\n" << ok.output);
    CHECK(ok.exit_code == 0);
    CHECK_THAT(ok.output, Catch::Contains("\"finish_reason\""));
    const CommandResult env =
        run_command({"/usr/bin/env", "RADIAL_TOKEN=" + f.token(), cli, "health", "--server",
                     s.address(), "--tls-ca", f.dir() + "/ca.pem"},
                    "/dev/null", 60s);
    INFO("radial health output:\n" << env.output);
    CHECK(env.exit_code == 0);
    const CommandResult denied =
        run_command({"/usr/bin/env", "-u", "RADIAL_TOKEN", cli, "generate", "--server", s.address(),
                     "--tls-ca", f.dir() + "/ca.pem", "--prompt-ids", "1", "--max-tokens", "4"},
                    "/dev/null", 60s);
    CHECK(denied.exit_code == 1);
    CHECK_THAT(denied.output, Catch::Contains("UNAUTHENTICATED"));
  }
  CHECK(s.proc->running());
  CHECK_THAT(s.proc->log(), !Catch::Contains("no client authentication configured"));
}

TEST_CASE("mutual TLS: a client certificate from the configured CA is required", "[security]") {
  auto& f = SecurityFixture::get();
  SecureServer& s = f.mtls();
  auto no_cert = pb::Radial::NewStub(tls_channel(s, f.dir()));
  CHECK(model_info_with(*no_cert, "").error_code() == grpc::StatusCode::UNAVAILABLE);
  auto rogue = pb::Radial::NewStub(tls_channel(s, f.dir(), "rogue"));
  CHECK(model_info_with(*rogue, "").error_code() == grpc::StatusCode::UNAVAILABLE);
  auto good = pb::Radial::NewStub(tls_channel(s, f.dir(), "client"));
  CHECK(model_info_with(*good, "").ok());
  const Generation g = generate_with_token(*good, small_request(), "");
  CHECK(g.status.ok());
  CHECK(g.ids.size() == 8);
  CHECK(health(plaintext_channel(s.health_port), "radial.v1.Radial") == 1);
  // Client certificates count as authentication: no warning.
  CHECK_THAT(s.proc->log(), !Catch::Contains("no client authentication configured"));
}

TEST_CASE("a third stream on a connection limited to two waits", "[security]") {
  auto& f = SecurityFixture::get();
  SecureServer& s = f.limited();
  CHECK_THAT(s.proc->log(), Catch::Contains("no client authentication configured"));

  // Three long streams on one channel (one connection), each read by its
  // own thread. gRPC does not promise which two get the slots.
  auto stub = pb::Radial::NewStub(plaintext_channel(s.grpc_port));
  pb::GenerateRequest req = small_request();
  req.set_max_tokens(2000);
  std::vector<std::unique_ptr<grpc::ClientContext>> ctxs;
  std::vector<std::atomic<int>> tokens(3);
  std::vector<grpc::Status> status(3);
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    ctxs.push_back(std::make_unique<grpc::ClientContext>());
    ctxs.back()->set_deadline(std::chrono::system_clock::now() + 60s);
  }
  for (int i = 0; i < 3; ++i)
    threads.emplace_back([&, i] {
      auto reader = stub->Generate(ctxs[i].get(), req);
      pb::GenerateResponse m;
      while (reader->Read(&m)) tokens[i] += m.tokens_size();
      status[i] = reader->Finish();
    });
  auto progressing = [&] {
    std::vector<int> r;
    for (int i = 0; i < 3; ++i)
      if (tokens[i] > 0) r.push_back(i);
    return r;
  };
  const auto until = Clock::now() + 20s;
  while (progressing().size() < 2 && Clock::now() < until) std::this_thread::sleep_for(10ms);
  // For half a second: exactly two streams make progress, and the server
  // never holds more than two of this connection's calls.
  double most = 0;
  std::string seen;
  for (int i = 0; i < 25; ++i) {
    const std::string text = s.metrics();
    const double n = metric_value(text, "radial_num_requests_running").value_or(0) +
                     metric_value(text, "radial_num_requests_waiting").value_or(0);
    seen += std::to_string(static_cast<int>(n)) + " ";
    most = std::max(most, n);
    std::this_thread::sleep_for(20ms);
  }
  INFO("running + waiting: " << seen);
  CHECK(most == 2);
  const std::vector<int> running = progressing();
  REQUIRE(running.size() == 2);
  const int waiting = 3 - running[0] - running[1];
  CHECK(tokens[waiting] == 0);
  // Freeing a slot lets the third one start.
  ctxs[running[0]]->TryCancel();
  while (tokens[waiting] == 0 && Clock::now() < until + 20s) std::this_thread::sleep_for(10ms);
  CHECK(tokens[waiting] > 0);
  for (auto& c : ctxs) c->TryCancel();
  for (auto& t : threads) t.join();
  for (const auto& st : status) CHECK(st.error_code() == grpc::StatusCode::CANCELLED);
  CHECK(wait_metric_text([&] { return s.metrics(); }, "radial_kv_cache_blocks_used", {}, 0)
            .value_or(-1) == 0);
  CHECK(s.proc->running());
}

TEST_CASE("a generation past max_deadline_s ends with DEADLINE_EXCEEDED, KV freed", "[security]") {
  auto& f = SecurityFixture::get();
  SecureServer& s = f.capped();
  {
    auto stub = pb::Radial::NewStub(plaintext_channel(s.grpc_port));
    pb::GenerateRequest req = small_request();
    req.set_max_tokens(2000);
    for (bool streaming : {true, false}) {
      const auto t0 = Clock::now();
      Generation g;
      if (streaming) {
        g = generate_with_token(*stub, req, "");  // no client deadline beyond 60 s
      } else {
        g = generate_unary(*stub, req, 60s);
      }
      const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
      CHECK(g.status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);
      CHECK_THAT(g.status.error_message(), Catch::Contains("max_deadline_s"));
      CHECK(secs >= 1.9);
      CHECK(secs < 10);
    }
    CHECK(wait_metric_text([&] { return s.metrics(); }, "radial_kv_cache_blocks_used", {}, 0)
              .value_or(-1) == 0);
  }
  CHECK(s.proc->running());
}

TEST_CASE("a streaming client that stops reading is let go after the cap", "[security]") {
  // The client's HTTP/2 receive window is 1 KB (and stays so: no BDP
  // probing), so the handler blocks in Write a few dozen tokens after the
  // client stops reading, where only the watchdog (cap + 2 s) can end it.
  // The call must have ended on the server - its end line logged, KV free -
  // while the client still is not reading.
  auto& f = SecurityFixture::get();
  SecureServer& s = f.capped();
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 1024);
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  auto stub = pb::Radial::NewStub(
      grpc::CreateCustomChannel(s.address(), grpc::InsecureChannelCredentials(), args));
  pb::GenerateRequest req = small_request();
  req.set_max_tokens(2000);
  req.set_request_id("stalled-1");
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 60s);
  auto reader = stub->Generate(&ctx, req);
  pb::GenerateResponse m;
  REQUIRE(reader->Read(&m));
  std::this_thread::sleep_for(6s);
  const std::string log = s.proc->log();
  CHECK_THAT(log, Catch::Contains("[stalled-1] end: status=DEADLINE_EXCEEDED"));
  const std::string text = s.metrics();
  CHECK(metric_value(text, "radial_num_requests_running").value_or(-1) == 0);
  CHECK(metric_value(text, "radial_kv_cache_blocks_used").value_or(-1) == 0);
  int messages = 1;
  while (reader->Read(&m)) ++messages;
  const grpc::Status st = reader->Finish();
  const bool watchdog = log.find("blocked past the deadline cap") != std::string::npos;
  INFO("messages read " << messages << ", watchdog " << watchdog << ", status " << st.error_code()
                        << " " << st.error_message());
  // The watchdog cancelled the call: the client sees CANCELLED.
  CHECK(watchdog);
  CHECK(st.error_code() == grpc::StatusCode::CANCELLED);
  CHECK(messages < 2001);
  CHECK(s.proc->running());
}

TEST_CASE("radiald: TLS and token settings are checked at start (exit 2)", "[security]") {
  auto& f = SecurityFixture::get();
  const std::string d = f.dir();
  const std::string empty = d + "/empty-token";
  write_file(empty, "\n");
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--tls-cert-file", d + "/server.pem"}, "tls_cert_file and tls_key_file"},
      {{"--tls-client-ca-file", d + "/ca.pem"}, "tls_client_ca_file needs"},
      {{"--tls-cert-file", d + "/nope.pem", "--tls-key-file", d + "/server.key"}, "cannot read"},
      {{"--auth-token-file", empty}, "holds no token"},
      {{"--auth-token-file", d + "/missing"}, "cannot read"},
      {{"--max-streams-per-connection", "0"}, "outside"},
      {{"--grpc-memory-quota-bytes", "1000"}, "outside"},
      {{"--max-deadline-s", "-1"}, "outside"},
      {{"--listen", "127.0.0.1:50999", "--health-listen", "127.0.0.1:50999"}, "must differ"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv = {radiald_binary(), "--metrics-listen", "off",        "--model",
                                     model_dir(),      "--listen",         "127.0.0.1:0"};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    const CommandResult r = run_command(argv, "/dev/null", 60s);
    INFO(r.output);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Catch::Contains(c.message));
  }
}

}  // namespace radial::e2e
