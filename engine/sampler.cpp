// Host-side sampling. Determinism: the only randomness is the sampler's own
// splitmix64 stream, candidate order is a strict total order (logit desc, then
// id asc), and no std:: distribution is used, so a seed gives the same tokens
// on every platform.
#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <sstream>
#include <string>

#include "engine/error.h"

namespace radial {

namespace {

std::string format_value(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

void check_field(bool ok, const char* field, const char* rule, double value) {
  require(ok, ErrorCode::kInvalidArgument,
          std::string(field) + " must be " + rule + ", got " + format_value(value));
}

}  // namespace

void SamplingParams::validate() const {
  check_field(std::isfinite(temperature) && temperature >= 0.f, "temperature", "finite and >= 0",
              temperature);
  check_field(top_k >= 0, "top_k", ">= 0", top_k);
  check_field(top_p > 0.f && top_p <= 1.f, "top_p", "in (0, 1]", top_p);
  check_field(std::isfinite(repetition_penalty) && repetition_penalty > 0.f, "repetition_penalty",
              "finite and > 0", repetition_penalty);
  check_field(presence_penalty >= -2.f && presence_penalty <= 2.f, "presence_penalty", "in [-2, 2]",
              presence_penalty);
  check_field(frequency_penalty >= -2.f && frequency_penalty <= 2.f, "frequency_penalty",
              "in [-2, 2]", frequency_penalty);
  std::vector<int> tokens;
  for (const LogitBias& b : logit_bias) {
    check_field(b.token >= 0, "logit_bias token", ">= 0", b.token);
    require(b.bias >= -100.f && b.bias <= 100.f, ErrorCode::kInvalidArgument,
            "logit_bias of token " + std::to_string(b.token) + " must be in [-100, 100], got " +
                format_value(b.bias));
    tokens.push_back(b.token);
  }
  std::sort(tokens.begin(), tokens.end());
  const auto dup = std::adjacent_find(tokens.begin(), tokens.end());
  require(dup == tokens.end(), ErrorCode::kInvalidArgument,
          "logit_bias names token " + (dup == tokens.end() ? std::string() : std::to_string(*dup)) +
              " twice");
}

int argmax(std::span<const float> logits) {
  require(!logits.empty(), ErrorCode::kInvalidArgument, "argmax of empty logits");
  int best = -1;
  for (size_t i = 0; i < logits.size(); ++i) {
    if (std::isnan(logits[i])) continue;
    if (best < 0 || logits[i] > logits[best]) best = static_cast<int>(i);
  }
  return best < 0 ? 0 : best;
}

Sampler::Sampler(const SamplingParams& params) : p_(params), rng_(params.seed) { p_.validate(); }

void Sampler::adjust_logits(std::span<float> logits, std::span<const int> history,
                            size_t prompt_len) {
  for (const LogitBias& b : p_.logit_bias) logits[b.token] += b.bias;

  // Repetition penalty, once per distinct id of the whole history.
  if (p_.repetition_penalty != 1.f) {
    order_.assign(history.begin(), history.end());
    std::sort(order_.begin(), order_.end());
    order_.erase(std::unique(order_.begin(), order_.end()), order_.end());
    const float rp = p_.repetition_penalty;
    for (int id : order_) logits[id] = logits[id] > 0.f ? logits[id] / rp : logits[id] * rp;
  }

  // Presence and frequency penalties: generated ids, counted by sorting.
  if (p_.presence_penalty != 0.f || p_.frequency_penalty != 0.f) {
    order_.assign(history.begin() + static_cast<std::ptrdiff_t>(prompt_len), history.end());
    std::sort(order_.begin(), order_.end());
    for (size_t i = 0; i < order_.size();) {
      size_t j = i;
      while (j < order_.size() && order_[j] == order_[i]) ++j;
      logits[order_[i]] -= p_.frequency_penalty * static_cast<float>(j - i) + p_.presence_penalty;
      i = j;
    }
  }
}

int Sampler::sample(std::span<float> logits, std::span<const int> history, size_t prompt_len) {
  const int n = static_cast<int>(logits.size());
  require(n > 0, ErrorCode::kInvalidArgument, "sample: empty logits");
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  for (float& l : logits) {
    if (std::isnan(l)) l = kNegInf;  // keeps the candidate order a strict weak order
  }
  for (int id : history) {
    require(
        id >= 0 && id < n, ErrorCode::kInvalidArgument,
        "sample: history id " + std::to_string(id) + " is outside [0, " + std::to_string(n) + ")");
  }
  for (const LogitBias& b : p_.logit_bias) {
    require(b.token < n, ErrorCode::kInvalidArgument,
            "sample: logit_bias token " + std::to_string(b.token) + " is outside [0, " +
                std::to_string(n) + ")");
  }
  require(prompt_len <= history.size(), ErrorCode::kInvalidArgument,
          "sample: prompt_len " + std::to_string(prompt_len) + " exceeds the history (" +
              std::to_string(history.size()) + " ids)");
  adjust_logits(logits, history, prompt_len);

  if (p_.temperature == 0.f) return argmax(logits);

  // Unnormalized softmax weights exp((l - max) / T) in double; +inf logits
  // share all the mass, all -inf means uniform. The best id weighs exactly 1.
  float max_logit = kNegInf;
  auto weight = [&](int id) -> double {
    if (std::isinf(max_logit)) return max_logit > 0 ? (logits[id] == max_logit ? 1.0 : 0.0) : 1.0;
    return std::exp((static_cast<double>(logits[id]) - max_logit) / p_.temperature);
  };

  // Candidates: the top_k best sorted best first (logit desc, id asc), or all
  // ids in id order. The weights keep the order of the logits.
  auto heavier = [](const Candidate& a, const Candidate& b) {
    return a.weight > b.weight || (a.weight == b.weight && a.id < b.id);
  };
  const bool sorted = p_.top_k > 0 && p_.top_k < n;
  if (sorted) {
    const int k = p_.top_k;
    if (k > n / 8) {
      cand_.resize(n);
      for (int i = 0; i < n; ++i) cand_[i] = {logits[i], i};  // select on the logits
      std::nth_element(cand_.begin(), cand_.begin() + (k - 1), cand_.end(), heavier);
      cand_.resize(k);
    } else {
      // One pass with a heap of the k best so far (its front is the
      // lightest): most ids cost one comparison.
      cand_.clear();
      for (int i = 0; i < n; ++i) {
        const Candidate c{logits[i], i};  // select on the logits
        if (static_cast<int>(cand_.size()) < k) {
          cand_.push_back(c);
          std::push_heap(cand_.begin(), cand_.end(), heavier);
        } else if (heavier(c, cand_.front())) {
          std::pop_heap(cand_.begin(), cand_.end(), heavier);
          cand_.back() = c;
          std::push_heap(cand_.begin(), cand_.end(), heavier);
        }
      }
    }
    std::sort(cand_.begin(), cand_.end(), heavier);
    max_logit = logits[cand_[0].id];
    for (Candidate& c : cand_) c.weight = weight(c.id);
  } else {
    for (float l : logits) max_logit = std::max(max_logit, l);
    cand_.resize(n);
    for (int i = 0; i < n; ++i) cand_[i] = {weight(i), i};
  }
  double total = 0.0;
  for (const Candidate& c : cand_) total += c.weight;

  // Nucleus: the smallest best-first prefix whose mass reaches top_p * total
  // (at least one candidate).
  if (p_.top_p < 1.f && cand_.size() > 1) {
    const double target = p_.top_p * total;
    if (!sorted) {
      // Ids lighter than (1 - top_p) / (m - 1) of the mass cannot be in the
      // nucleus: there are at most m - 1 of them once the best id (weight 1)
      // is always kept, so together they weigh less than (1 - top_p) of the
      // mass. Dropping them first is llama2.c's trick, with the cutoff capped
      // at 1 so that the best id always survives.
      const double cutoff =
          std::min(1.0, (1.0 - p_.top_p) / static_cast<double>(cand_.size() - 1) * total);
      std::erase_if(cand_, [&](const Candidate& c) { return c.weight < cutoff; });
    }
    // Sort only as much as needed: the best 64, then the next 64, 128, ...
    // until the nucleus is complete (a peaked distribution needs one round).
    const size_t m = cand_.size();
    size_t done = sorted ? m : 0, keep = m;
    double mass = 0.0;
    for (size_t j = 0; j < done && keep == m; ++j) {
      mass += cand_[j].weight;
      if (mass >= target) keep = j + 1;
    }
    while (done < m && keep == m) {
      const size_t k = std::min(m, std::max<size_t>(64, 2 * done));
      if (k < m) std::nth_element(cand_.begin() + done, cand_.begin() + k, cand_.end(), heavier);
      std::sort(cand_.begin() + done, cand_.begin() + k, heavier);
      for (size_t j = done; j < k && keep == m; ++j) {
        mass += cand_[j].weight;
        if (mass >= target) keep = j + 1;
      }
      done = k;
    }
    cand_.resize(keep);
    total = 0.0;
    for (const Candidate& c : cand_) total += c.weight;
  }

  // Draw: the first candidate whose cumulative weight exceeds u * total.
  const double r = rng_.uniform() * total;
  double acc = 0.0;
  size_t last_nonzero = 0;
  for (size_t j = 0; j < cand_.size(); ++j) {
    acc += cand_[j].weight;
    if (cand_[j].weight > 0.0) last_nonzero = j;
    if (acc > r) return cand_[j].id;
  }
  return cand_[last_nonzero].id;  // rounding: r at the very top of the range
}

}  // namespace radial
