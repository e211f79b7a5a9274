// Fixture of the security end-to-end tests (test_security.cpp): throwaway
// certificates made with openssl at test time, radiald daemons started with
// TLS / a bearer token / limits and a plaintext health port, and call
// helpers that set the authorization metadata.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "tests/e2e/server_fixture.h"

namespace radial::e2e {

// Polls `scrape()` until `name{labels}` equals `want` (10 s at most);
// returns the last value seen.
std::optional<double> wait_metric_text(const std::function<std::string()>& scrape,
                                       const std::string& name,
                                       const std::map<std::string, std::string>& labels,
                                       double want);

std::string read_text(const std::string& path);

// A radiald started with --health-listen on its own port; ready when the
// plaintext health port says SERVING.
struct SecureServer {
  std::unique_ptr<Subprocess> proc;
  int grpc_port = 0, metrics_port = 0, health_port = 0;
  std::string address() const { return "127.0.0.1:" + std::to_string(grpc_port); }
  std::string metrics() const { return http_get(metrics_port, "/metrics").value_or(""); }
};

// A plaintext channel to 127.0.0.1:port (short reconnect backoff).
std::shared_ptr<grpc::Channel> plaintext_channel(int port);

// A TLS channel to `s` trusting dir/ca.pem; with `client` ("client",
// "rogue"), presenting dir/<client>.pem and its key.
std::shared_ptr<grpc::Channel> tls_channel(const SecureServer& s, const std::string& dir,
                                           const std::string& client = "");

// Token ids [1], 8 tokens, full mode, ignore_eos.
pb::GenerateRequest small_request();

// A Generate call with the metadata `authorization: <authorization>` ("":
// none); the tokens and the status.
Generation generate_with_token(pb::Radial::Stub& stub, const pb::GenerateRequest& req,
                               const std::string& authorization);

// A ModelInfo call with the metadata `authorization: <authorization>`.
grpc::Status model_info_with(pb::Radial::Stub& stub, const std::string& authorization);

// The certificates (in dir(): ca, server, client, rogue-ca, rogue; .pem and
// .key), the token file and the daemons, made when first needed; the
// daemons are killed at exit.
class SecurityFixture {
 public:
  static SecurityFixture& get();

  const std::string& dir();  // makes the certificates and the token file
  std::string token_path() const { return dir_.path() + "/token"; }
  static std::string token() { return "s3cret-token-0123456789abcdef"; }

  SecureServer& tls_token();  // TLS (no client certificates) + bearer token
  SecureServer& mtls();       // mutual TLS, no token
  SecureServer& limited();    // plaintext, slow model, 2 streams per connection
  SecureServer& capped();     // plaintext, slow model, a 2 s deadline cap

 private:
  SecureServer& start(std::unique_ptr<SecureServer>& slot, const std::string& name,
                      const std::vector<std::string>& args);
  void kill_all();

  TempDir dir_;
  std::mutex mu_;
  bool certs_ = false;
  std::unique_ptr<SecureServer> tls_token_, mtls_, limited_, capped_;
};

}  // namespace radial::e2e
