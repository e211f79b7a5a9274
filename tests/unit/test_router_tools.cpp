// The router tools (radial profile / distill / eval) and the engine hooks
// they use, on a small random model whose layer 1 is an exact identity
// (zero o_proj and down_proj), plus bad input.
#include <catch2/catch.hpp>

#include <unistd.h>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/model_bundle.h"
#include "engine/model_loader.h"
#include "engine/random.h"
#include "engine_harness.h"
#include "test_util.h"
#include "tools/radial/commands.h"
#include "tools/radial/router_distill.h"
#include "tools/radial/router_eval.h"
#include "tools/radial/router_profile.h"

using namespace radial;
using namespace radial::tools;
namespace fs = std::filesystem;
using radial::test::TempDir;

namespace {

constexpr int kIdentity = 1;  // the layer that adds nothing

ModelConfig small_config() {
  return parse_hf_config(nlohmann::json{{"model_type", "llama"},
                                        {"hidden_size", 32},
                                        {"intermediate_size", 64},
                                        {"num_hidden_layers", 4},
                                        {"num_attention_heads", 4},
                                        {"num_key_value_heads", 2},
                                        {"vocab_size", 64},
                                        {"max_position_embeddings", 64},
                                        {"rms_norm_eps", 1e-5},
                                        {"tie_word_embeddings", false},
                                        {"bos_token_id", 1},
                                        {"eos_token_id", 2}});
}

void scale(Tensor& t, float s) {
  for (int64_t i = 0; i < t.numel(); ++i) t.f32()[i] *= s;
}

// Random weights, scaled so that layers and the head matter (the 0.02 of
// make_random_model gives nearly flat logits), with layer kIdentity an
// exact identity.
std::shared_ptr<const ModelWeights> identity_model() {
  static auto w = [] {
    auto m = std::make_shared<ModelWeights>(make_random_model(small_config(), 7));
    for (auto& l : m->layers)
      for (Tensor* t : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) scale(*t, 20.f);
    scale(m->lm_head, 100.f);
    for (Tensor* t : {&m->layers[kIdentity].wo, &m->layers[kIdentity].w_down})
      std::fill(t->f32(), t->f32() + t->numel(), 0.f);
    return std::shared_ptr<const ModelWeights>(m);
  }();
  return w;
}

Corpus random_corpus(int sequences, int length, uint64_t seed) {
  Rng rng(seed);
  Corpus c;
  for (int s = 0; s < sequences; ++s) {
    std::vector<int> seq{1};
    for (int i = 1; i < length; ++i) seq.push_back(3 + static_cast<int>(rng.next() % 61));
    c.push_back(seq);
  }
  return c;
}

DistillOptions quick_options() {
  DistillOptions o;
  o.router_hidden = 16;
  o.epochs = 6;
  o.onpolicy_rounds = 1;
  o.onpolicy_epochs = 2;
  o.ablation_stride = 2;
  o.batch = 64;
  o.lr = 1e-2;
  o.compute.threads = 1;
  return o;
}

std::vector<float> values(const Tensor& t) {
  return std::vector<float>(t.f32(), t.f32() + t.numel());
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

int run_cli(int (*cmd)(int, char**), std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return cmd(static_cast<int>(argv.size()), argv.data());
}

}  // namespace

TEST_CASE("profile: an identity layer has residual ratio 0, the others do not", "[router-tools]") {
  const ProfileResult p = profile_model(identity_model(), random_corpus(4, 20, 1), Compute{{}, 1});
  REQUIRE(p.num_layers == 4);
  CHECK(p.positions == 80);
  for (int l = 0; l < 4; ++l) {
    INFO("layer " << l);
    const RatioSummary &a = p.layers[l].attn, &m = p.layers[l].mlp;
    CHECK(a.count == 80);
    if (l == kIdentity) {
      CHECK(a.p90 == 0.0);
      CHECK(m.p90 == 0.0);
      CHECK(a.under_1pct == 1.0);
      CHECK(m.under_1pct == 1.0);
    } else {
      CHECK(a.p10 > 0.01);
      CHECK(m.p10 > 0.01);
      CHECK(a.p10 <= a.median);
      CHECK(a.median <= a.p90);
    }
  }
  const nlohmann::json j = to_json(p);
  CHECK(j["layers"][kIdentity]["attn"]["median"] == 0.0);
  CHECK(profile_table(p).find("residual ratio") != std::string::npos);
}

TEST_CASE("engine hooks: block probe leaves results unchanged, force_skip skips",
          "[router-tools]") {
  auto w = identity_model();
  const Corpus c = random_corpus(2, 12, 2);
  auto all = std::make_shared<const RouterWeights>(
      skip_router(w->config, std::vector<bool>(4, false), KvPolicy::kPropagate));
  WaveRunner runner(w, all, 64, 8, Compute{{}, 1});
  auto collect = [&](bool force) {
    std::vector<float> logits;
    std::vector<std::vector<int>> paths;
    WaveVisitor v;
    if (force) v.on_start = [](int, Pass& p) { p.force_skip = {false, false, true, false}; };
    v.on_logits = [&](int, const Pass& p, const float* l) {
      logits.insert(logits.end(), l, l + 64);
      paths.push_back(p.path);
    };
    runner.run_all(c, routing_params(RouteMode::kForward, 0.5f, KvPolicy::kPropagate, 4), v);
    return std::make_pair(logits, paths);
  };
  const auto plain = collect(false);
  struct Count : BlockProbe {
    int rows = 0;
    void on_block(int, const LayerRow&, const BlockNorms& n) override { rows += n.after_mlp > 0; }
  } probe;
  runner.engine().set_block_probe(&probe);
  const auto probed = collect(false);
  runner.engine().set_block_probe(nullptr);
  CHECK(probe.rows == 24 * 4);
  CHECK(probed.first == plain.first);  // bit for bit
  const auto forced = collect(true);
  for (const auto& path : forced.second) CHECK(path == std::vector<int>{0, 1, 3});
  // Scheduler prompt depth and compute fraction, full mode.
  GenerateRequest r;
  r.prompt = c[0];
  r.max_tokens = 1;
  r.keep_prompt_logits = true;
  r.mode = RouteMode::kFull;
  const SequenceResult res = test::run_requests(w, all, {r})[0];
  CHECK(res.prompt_depth == std::vector<int>(12, 4));
  CHECK(res.prompt_path == std::vector<std::vector<int>>(12, std::vector<int>{0, 1, 2, 3}));
  CHECK(res.prompt_compute_fraction == std::vector<double>(12, 1.0));
  // WaveRunner's logits equal the scheduler's prompt logits.
  for (int i = 0; i < 12; ++i)
    CHECK(std::equal(res.prompt_logits[i].begin(), res.prompt_logits[i].end(),
                     plain.first.begin() + i * 64));
}

TEST_CASE("distill: the router learns to skip the identity layer, reproducibly for a seed",
          "[router-tools]") {
  auto w = identity_model();
  const Corpus corpus = random_corpus(12, 24, 3);
  DistillOptions o = quick_options();
  DistillReport rep;
  const RouterWeights r = distill_router(w, corpus, o, &rep);
  CHECK(rep.layer_flip_rate[kIdentity] == 0.0);
  CHECK(rep.layer_importance[kIdentity] == 0.0);
  CHECK(rep.layer_target[kIdentity] == 0.0);
  CHECK(rep.layer_target[2] > 0.3);
  CHECK(r.config.pinned_layers == std::vector<int>{0});
  CHECK(!rep.calibration.empty());
  CHECK(r.config.threshold == rep.chosen.threshold);

  // Routed at its threshold, passes skip the identity layer and keep the others.
  auto rp = std::make_shared<const RouterWeights>(r);
  const Corpus held = random_corpus(4, 24, 4);
  WaveRunner runner(w, rp, 256, 16, Compute{{}, 1});
  std::vector<long> visits(4, 0);
  long passes = 0;
  WaveVisitor v;
  v.on_logits = [&](int, const Pass& p, const float*) {
    ++passes;
    for (int j : p.path) ++visits[j];
  };
  runner.run_all(
      held, routing_params(RouteMode::kForward, r.config.threshold, KvPolicy::kPropagate, 4), v);
  CHECK(visits[kIdentity] <= passes / 20);
  CHECK(visits[0] == passes);
  CHECK(visits[2] + visits[3] >= passes);

  // Same seed: the same bits; another seed: other weights.
  const RouterWeights again = distill_router(w, corpus, o, nullptr);
  CHECK(values(again.fc1_w) == values(r.fc1_w));
  CHECK(values(again.fc2_b) == values(r.fc2_b));
  CHECK(again.config.threshold == r.config.threshold);
  o.seed = 1;
  CHECK(values(distill_router(w, corpus, o, nullptr).fc1_w) != values(r.fc1_w));

  // save_router round trip loads into an engine.
  TempDir tmp("distill");
  save_router(r, tmp.file("r"));
  const RouterWeights back = load_router(tmp.file("r"), w->config);
  CHECK(values(back.fc2_w) == values(r.fc2_w));
}

TEST_CASE("eval: full depth and threshold 0 agree exactly with full depth", "[router-tools]") {
  auto w = identity_model();
  auto r = std::make_shared<const RouterWeights>(make_random_router(w->config, 5, 8));
  EvalOptions o;
  o.thresholds = {0.f, 0.5f, 1.f};
  o.compute.threads = 1;
  const EvalResult res = evaluate_router(w, r, random_corpus(3, 16, 5), o);
  REQUIRE(res.points.size() == 7);
  CHECK(res.positions == 45);
  for (const EvalPoint& p : res.points) {
    INFO(route_mode_name(p.mode) << " " << kv_policy_name(p.kv_policy) << " " << p.threshold);
    CHECK(p.positions == 45);
    double total = 0;
    for (double h : p.depth_hist) total += h;
    CHECK(total == Approx(1.0));
    if (p.mode == RouteMode::kFull || p.threshold == 0.f) {
      CHECK(p.kl == 0.0);
      CHECK(p.top1 == 1.0);
      CHECK(p.mean_depth == 4.0);
      CHECK(p.depth_hist[4] == 1.0);
      CHECK(p.perplexity == res.points[0].perplexity);
    }
    if (p.threshold == 1.f && p.mode != RouteMode::kFull)
      CHECK(p.mean_depth == 1.0);  // only pinned layer 0
  }
  CHECK(res.points[0].compute_fraction == 1.0);
  CHECK(res.points[1].compute_fraction > 1.0);  // threshold 0: every layer plus router evaluations
  CHECK(eval_csv(res).find("depth_4") != std::string::npos);
  CHECK(to_json(res)["points"].size() == 7);
}

TEST_CASE("eval: a radial-mode router is evaluated in radial mode, with its reuse",
          "[router-tools]") {
  auto w = identity_model();
  const int L = w->config.num_layers;
  RouterWeights rw = make_random_router(w->config, 11, 8);
  rw.config.mode = RouteMode::kRadial;
  rw.config.kv_policy = KvPolicy::kSparse;
  rw.config.max_steps = 2 * L;
  rw.config.pinned_layers.clear();
  auto r = std::make_shared<const RouterWeights>(rw);
  EvalOptions o;
  o.compute.threads = 1;
  const EvalResult res = evaluate_router(w, r, random_corpus(3, 16, 5), o);
  REQUIRE(res.points.size() == 2);  // full, radial: thresholds and policies do not apply
  const EvalPoint& full = res.points[0];
  const EvalPoint& rad = res.points[1];
  CHECK(full.mode == RouteMode::kFull);
  CHECK(full.revisit_fraction == 0.0);
  CHECK(full.passes_with_revisit == 0.0);
  CHECK(rad.mode == RouteMode::kRadial);
  CHECK(rad.kv_policy == KvPolicy::kSparse);
  CHECK(rad.positions == 45);
  REQUIRE(rad.depth_hist.size() == static_cast<size_t>(2 * L + 1));
  double total = 0, mean = 0, beyond_l = 0;
  for (size_t d = 0; d < rad.depth_hist.size(); ++d) {
    total += rad.depth_hist[d];
    mean += d * rad.depth_hist[d];
    if (static_cast<int>(d) > L) beyond_l += (d - L) * rad.depth_hist[d];
  }
  CHECK(total == Approx(1.0));
  CHECK(mean == Approx(rad.mean_depth));
  // A pass deeper than L revisits at least depth - L layers, and only a pass
  // of depth >= 2 can revisit at all (no immediate repeat).
  CHECK(rad.revisit_fraction * rad.mean_depth >= beyond_l - 1e-9);
  CHECK(rad.passes_with_revisit <= 1.0 - rad.depth_hist[0] - rad.depth_hist[1] + 1e-9);
  CHECK(rad.revisit_fraction > 0.0);  // this random router revisits layers
  CHECK(to_json(res)["points"][1]["mode"] == "radial");
  CHECK(to_json(res)["points"][1].contains("revisit_fraction"));
  CHECK_FALSE(to_json(res)["points"][1].contains("threshold"));
  CHECK(eval_csv(res).find("depth_" + std::to_string(2 * L)) != std::string::npos);
  CHECK(eval_table(res).find("radial") != std::string::npos);
}

TEST_CASE("eval: agreement splits into near ties and clear positions consistently",
          "[router-tools]") {
  auto w = identity_model();
  auto r = std::make_shared<const RouterWeights>(make_random_router(w->config, 5, 8));
  const Corpus corpus = random_corpus(3, 16, 5);
  EvalOptions o;
  o.thresholds = {0.5f, 1.f};
  o.policies = {KvPolicy::kPropagate};
  o.compute.threads = 1;
  double last_share = -1;
  bool some_disagreement = false;
  for (double margin : {0.0, 0.1, 1.0, 10.0}) {
    o.tie_margin = margin;
    const EvalResult res = evaluate_router(w, r, corpus, o);
    INFO("tie margin " << margin);
    CHECK(res.tie_margin == margin);
    CHECK(res.near_tie_share >= last_share);  // a wider margin makes more near ties
    if (margin == 0.0) CHECK(res.near_tie_share == 0.0);
    last_share = res.near_tie_share;
    const double s = res.near_tie_share;
    for (const EvalPoint& p : res.points) {
      INFO(route_mode_name(p.mode) << " " << p.threshold);
      if (p.mode == RouteMode::kFull) CHECK(p.top1_clear == 1.0);
      if (margin == 0.0) CHECK(p.top1_clear == Approx(p.top1));
      // top1 = (1 - s) * clear + s * (agreement at near ties), that in [0, 1].
      CHECK(p.top1 >= (1 - s) * p.top1_clear - 1e-12);
      CHECK(p.top1 <= (1 - s) * p.top1_clear + s + 1e-12);
      some_disagreement = some_disagreement || p.top1 < 1.0;
    }
    CHECK(to_json(res)["near_tie_share"] == res.near_tie_share);
    CHECK(to_json(res)["points"][1].contains("top1_agreement_clear"));
    CHECK(eval_table(res).find("near ties: ") != std::string::npos);
  }
  CHECK(last_share > 0.0);
  CHECK(some_disagreement);  // threshold 1 runs layer 0 only: the split is not vacuous
  o.tie_margin = -0.5;
  CHECK_THAT(error_of([&] { evaluate_router(w, r, corpus, o); }),
             Catch::Contains("tie margin must be a finite number >= 0"));
}

TEST_CASE("router tools: bad input gives clear errors", "[router-tools]") {
  auto w = identity_model();
  TempDir tmp("bad");
  // A router for another model.
  ModelConfig other = small_config();
  other.num_layers = 3;
  save_router(make_random_router(other, 1, 8), tmp.file("other"));
  CHECK_THAT(error_of([&] { load_router(tmp.file("other"), w->config); }),
             Catch::Contains("num_layers 3 does not match the model's 4"));
  // A corrupt router file.
  save_router(make_random_router(w->config, 1, 8), tmp.file("corrupt"));
  std::ofstream(tmp.file("corrupt/router.safetensors"), std::ios::trunc) << "garbage";
  CHECK_THAT(error_of([&] { load_router(tmp.file("corrupt"), w->config); }),
             Catch::Contains("router.safetensors"));
  // Thresholds out of range.
  CHECK_THAT(error_of([] { parse_thresholds("0,1.5"); }),
             Catch::Contains("threshold must be in [0, 1]"));
  CHECK_THAT(error_of([] { parse_thresholds("0,x"); }), Catch::Contains("--thresholds"));
  EvalOptions eo;
  eo.thresholds = {-0.1f};
  auto r = std::make_shared<const RouterWeights>(make_random_router(w->config, 1, 8));
  CHECK_THAT(error_of([&] { evaluate_router(w, r, random_corpus(1, 8, 1), eo); }),
             Catch::Contains("threshold must be in [0, 1]"));
  // Empty data file; a data file without a tokenizer.
  std::ofstream(tmp.file("empty.txt")) << "\n  \n";
  CorpusOptions co;
  co.data_file = tmp.file("empty.txt");
  const std::string m = test::default_model_dir();
  auto tok = Tokenizer::load(m + "/tokenizer.model");
  auto stories = std::make_shared<const ModelWeights>(load_model(m));
  CHECK_THAT(error_of([&] { load_corpus(stories, tok.get(), co); }),
             Catch::Contains("no documents"));
  CHECK_THAT(error_of([&] { load_corpus(stories, nullptr, co); }), Catch::Contains("tokenizer"));
  // Distill options.
  DistillOptions o;
  o.pinned = {7};
  CHECK_THAT(error_of([&] { distill_router(w, random_corpus(2, 8, 1), o, nullptr); }),
             Catch::Contains("pinned layer 7"));
  o = DistillOptions{};
  o.threshold = 2.f;
  CHECK_THAT(error_of([&] { o.validate(w->config); }),
             Catch::Contains("threshold must be in [0, 1]"));
  // The CLI: 1 for runtime errors, 2 for usage errors.
  CHECK(run_cli(cli::cmd_eval, {"eval", "--model", m, "--router", tmp.file("corrupt"),
                                "--self-samples", "1"}) == 1);
  CHECK(run_cli(cli::cmd_eval,
                {"eval", "--model", m, "--thresholds", "0,2", "--self-samples", "1"}) == 1);
  CHECK(run_cli(cli::cmd_profile, {"profile", "--model", m, "--data", tmp.file("empty.txt")}) == 1);
  CHECK(run_cli(cli::cmd_distill, {"distill", "--model", m, "--self-samples", "2"}) ==
        2);  // no --out
  CHECK(run_cli(cli::cmd_profile, {"profile", "--data", "x", "--self-samples", "2"}) == 2);
}
