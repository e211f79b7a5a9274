// LogLimiter: one line per interval, the rest counted into the next line.
#include <catch2/catch.hpp>

#include <thread>

#include "server/log_limiter.h"

using radial::server::LogLimiter;

TEST_CASE("log limiter: one line per interval, the left-out ones counted", "[log]") {
  LogLimiter limiter(std::chrono::milliseconds(200));
  int64_t suppressed = -1;
  REQUIRE(limiter.allow(&suppressed));  // the first is always written
  CHECK(suppressed == 0);
  int written = 0;
  for (int i = 0; i < 1000; ++i) written += limiter.allow(&suppressed) ? 1 : 0;
  CHECK(written == 0);  // 1000 events well within 200 ms
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  REQUIRE(limiter.allow(&suppressed));
  CHECK(suppressed == 1000);
  CHECK_FALSE(limiter.allow(&suppressed));
}
