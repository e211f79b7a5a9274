#include "tests/e2e/security_fixture.h"

#include <signal.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <grpcpp/security/credentials.h>

namespace radial::e2e {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

void openssl(const std::string& dir, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  // Run in `dir` through sh so that relative names land there.
  std::string cmd = "cd '" + dir + "' &&";
  for (const auto& a : argv) cmd += " '" + a + "'";
  const CommandResult r = run_command({"/bin/sh", "-c", cmd}, "/dev/null", 60s);
  if (r.exit_code != 0) throw std::runtime_error("openssl failed: " + cmd + "\n" + r.output);
}

// A CA (ca.pem), a server certificate for 127.0.0.1 / localhost
// (server.pem, server.key), a client certificate (client.pem, client.key),
// and a client certificate from another CA (rogue.pem, rogue.key).
void make_certificates(const std::string& dir) {
  const std::string ext = dir + "/san.ext";
  write_file(ext, "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  auto ca = [&](const std::string& name) {
    openssl(dir, {"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out",
                  name + ".pem", "-days", "2", "-subj", "/CN=radiald test " + name});
  };
  auto leaf = [&](const std::string& name, const std::string& issuer, bool san) {
    openssl(dir, {"req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out",
                  name + ".csr", "-subj", "/CN=" + name});
    std::vector<std::string> sign = {"x509",
                                     "-req",
                                     "-in",
                                     name + ".csr",
                                     "-CA",
                                     issuer + ".pem",
                                     "-CAkey",
                                     issuer + ".key",
                                     "-CAcreateserial",
                                     "-out",
                                     name + ".pem",
                                     "-days",
                                     "2"};
    if (san) sign.insert(sign.end(), {"-extfile", "san.ext"});
    openssl(dir, sign);
  };
  ca("ca");
  ca("rogue-ca");
  leaf("server", "ca", true);
  leaf("client", "ca", false);
  leaf("rogue", "rogue-ca", false);
}

std::unique_ptr<SecureServer> start_secure(const std::string& name,
                                           const std::vector<std::string>& args,
                                           const std::string& dir) {
  std::string last_log;
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto s = std::make_unique<SecureServer>();
    s->grpc_port = free_port();
    do s->metrics_port = free_port();
    while (s->metrics_port == s->grpc_port);
    do s->health_port = free_port();
    while (s->health_port == s->grpc_port || s->health_port == s->metrics_port);
    std::vector<std::string> argv = {radiald_binary(),
                                     "--listen",
                                     s->address(),
                                     "--metrics-listen",
                                     "127.0.0.1:" + std::to_string(s->metrics_port),
                                     "--health-listen",
                                     "127.0.0.1:" + std::to_string(s->health_port),
                                     "--threads",
                                     "1"};
    argv.insert(argv.end(), args.begin(), args.end());
    s->proc = std::make_unique<Subprocess>(
        argv, dir + "/" + name + "-" + std::to_string(attempt) + ".log");
    auto health_ch = plaintext_channel(s->health_port);
    const auto end = Clock::now() + 90s;
    bool clash = false;
    while (Clock::now() < end) {
      if (!s->proc->running()) {
        last_log = s->proc->log();
        clash = last_log.find("cannot listen") != std::string::npos ||
                last_log.find("cannot serve metrics") != std::string::npos;
        break;
      }
      if (health(health_ch, "radial.v1.Radial") == 1) return s;
      std::this_thread::sleep_for(20ms);
    }
    if (!clash) {
      if (s->proc->running()) last_log = s->proc->log() + "\n(not SERVING after 90 s)";
      break;
    }
  }
  throw std::runtime_error("radiald " + name + " did not start:\n" + last_log);
}

}  // namespace

std::optional<double> wait_metric_text(const std::function<std::string()>& scrape,
                                       const std::string& name,
                                       const std::map<std::string, std::string>& labels,
                                       double want) {
  const auto end = Clock::now() + 10s;
  std::optional<double> v;
  for (;;) {
    v = metric_value(scrape(), name, labels);
    if ((v && *v == want) || Clock::now() >= end) return v;
    std::this_thread::sleep_for(20ms);
  }
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::shared_ptr<grpc::Channel> plaintext_channel(int port) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 250);
  return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                   grpc::InsecureChannelCredentials(), args);
}

std::shared_ptr<grpc::Channel> tls_channel(const SecureServer& s, const std::string& dir,
                                           const std::string& client) {
  grpc::SslCredentialsOptions o;
  o.pem_root_certs = read_text(dir + "/ca.pem");
  if (!client.empty()) {
    o.pem_cert_chain = read_text(dir + "/" + client + ".pem");
    o.pem_private_key = read_text(dir + "/" + client + ".key");
  }
  return grpc::CreateChannel(s.address(), grpc::SslCredentials(o));
}

pb::GenerateRequest small_request() {
  pb::GenerateRequest req;
  req.mutable_token_ids()->add_ids(1);
  req.set_max_tokens(8);
  req.set_routing_mode(pb::ROUTING_MODE_FULL);
  req.set_ignore_eos(true);
  return req;
}

Generation generate_with_token(pb::Radial::Stub& stub, const pb::GenerateRequest& req,
                               const std::string& authorization) {
  Generation g;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 60s);
  if (!authorization.empty()) ctx.AddMetadata("authorization", authorization);
  auto reader = stub.Generate(&ctx, req);
  pb::GenerateResponse m;
  while (reader->Read(&m)) {
    ++g.messages;
    for (const auto& t : m.tokens()) g.ids.push_back(t.id());
  }
  g.status = reader->Finish();
  return g;
}

grpc::Status model_info_with(pb::Radial::Stub& stub, const std::string& authorization) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 10s);
  if (!authorization.empty()) ctx.AddMetadata("authorization", authorization);
  pb::ModelInfoRequest req;
  pb::ModelInfoResponse resp;
  return stub.ModelInfo(&ctx, req, &resp);
}

SecurityFixture& SecurityFixture::get() {
  static SecurityFixture* f = [] {
    auto* p = new SecurityFixture();  // leaked: gRPC objects outlive main()
    std::atexit([] { get().kill_all(); });
    return p;
  }();
  return *f;
}

const std::string& SecurityFixture::dir() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!certs_) {
    make_certificates(dir_.path());
    write_file(token_path(), token() + "\n");
    ::chmod(token_path().c_str(), 0600);
    write_file(dir_.path() + "/slow.json", kSlowModelConfig);
    certs_ = true;
  }
  return dir_.path();
}

SecureServer& SecurityFixture::start(std::unique_ptr<SecureServer>& slot, const std::string& name,
                                     const std::vector<std::string>& args) {
  const std::string& d = dir();
  std::lock_guard<std::mutex> lock(mu_);
  if (!slot) slot = start_secure(name, args, d);
  return *slot;
}

SecureServer& SecurityFixture::tls_token() {
  const std::string d = dir();
  return start(tls_token_, "tls-token",
               {"--model", model_dir(), "--no-router", "--tls-cert-file", d + "/server.pem",
                "--tls-key-file", d + "/server.key", "--auth-token-file", token_path()});
}

SecureServer& SecurityFixture::mtls() {
  const std::string d = dir();
  return start(mtls_, "mtls",
               {"--model", model_dir(), "--no-router", "--tls-cert-file", d + "/server.pem",
                "--tls-key-file", d + "/server.key", "--tls-client-ca-file", d + "/ca.pem"});
}

SecureServer& SecurityFixture::limited() {
  const std::string d = dir();
  return start(limited_, "limited",
               {"--dummy-config", d + "/slow.json", "--no-router", "--kv-blocks", "4096",
                "--max-tokens", "2000", "--max-streams-per-connection", "2"});
}

SecureServer& SecurityFixture::capped() {
  const std::string d = dir();
  return start(capped_, "capped",
               {"--dummy-config", d + "/slow.json", "--no-router", "--kv-blocks", "4096",
                "--max-tokens", "2000", "--max-deadline-s", "2"});
}

void SecurityFixture::kill_all() {
  for (auto* s : {&tls_token_, &mtls_, &limited_, &capped_})
    if (*s && (*s)->proc) (*s)->proc->signal(SIGKILL);
  for (auto* s : {&tls_token_, &mtls_, &limited_, &capped_})
    if (*s && (*s)->proc) (*s)->proc->wait_exit(5s);
  std::error_code ec;
  if (std::getenv("RADIALD_E2E_KEEP_LOGS") == nullptr) std::filesystem::remove_all(dir_.path(), ec);
}

}  // namespace radial::e2e
