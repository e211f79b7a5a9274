#include "tools/radial/router_cli.h"

#include <unistd.h>

#include <cstdio>
#include <exception>

#include "engine/error.h"
#include "tools/radial/backend_choice.h"
#include "tools/radial/common.h"

namespace radial::cli {

std::set<std::string> with_corpus_options(std::set<std::string> extra) {
  extra.insert({"data", "self-samples", "sample-tokens", "max-tokens", "seed", "threads"});
  return with_backend_options(with_model_options(std::move(extra)));
}

tools::CorpusOptions corpus_options(const Args& args, uint64_t default_seed) {
  if (args.has("data") && args.has("self-samples"))
    throw UsageError{"give --data or --self-samples, not both"};
  tools::CorpusOptions o;
  o.data_file = args.str("data", "");
  if (args.has("data") && o.data_file.empty()) throw UsageError{"--data needs a file name"};
  o.self_samples = static_cast<int>(args.integer("self-samples").value_or(64));
  o.sample_tokens = static_cast<int>(args.integer("sample-tokens").value_or(256));
  o.max_tokens = static_cast<int>(args.integer("max-tokens").value_or(256));
  o.seed = static_cast<uint64_t>(args.integer("seed").value_or(static_cast<long>(default_seed)));
  o.compute.threads = static_cast<int>(args.integer("threads").value_or(0));
  o.compute.backend = backend_choice(args);
  return o;
}

ModelBundle load_model_only(const Args& args) {
  ModelSource src = model_source(args);
  src.no_router = true;
  return load_bundle(src);
}

int run_command(const char* name, const char* usage, const std::function<int()>& body) {
  try {
    return body();
  } catch (const UsageError& e) {
    std::fprintf(stderr, "radial %s: %s\n%s", name, e.message.c_str(), usage);
    return 2;
  } catch (const std::exception& e) {
    // On a terminal a progress bar may be mid-line: end it first.
    std::fprintf(stderr, "%sradial %s: %s\n", isatty(2) ? "\n" : "", name, e.what());
    return 1;
  }
}

Progress::Progress(std::string label, bool enabled)
    : label_(std::move(label)), enabled_(enabled), tty_(isatty(2) != 0), last_() {}

void Progress::update(double fraction, const std::string& status) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_).count();
  if (drawn_ && since < (tty_ ? 0.1 : 10.0)) return;
  last_ = now;
  draw(fraction, status, false);
}

void Progress::done(const std::string& status) {
  if (!enabled_) return;
  draw(1.0, status, true);
}

void Progress::draw(double fraction, const std::string& status, bool final) {
  constexpr int kWidth = 24;
  fraction = fraction < 0 ? 0 : fraction > 1 ? 1 : fraction;
  const int fill = static_cast<int>(fraction * kWidth + 0.5);
  std::string bar(fill, '#');
  bar.append(kWidth - fill, '.');
  std::fprintf(stderr, "%s%s [%s] %3.0f%% %s%s", tty_ ? "\r\033[K" : "", label_.c_str(),
               bar.c_str(), 100 * fraction, status.c_str(), tty_ && !final ? "" : "\n");
  std::fflush(stderr);
  drawn_ = true;
}

}  // namespace radial::cli
