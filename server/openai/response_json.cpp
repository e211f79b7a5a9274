#include "server/openai/response_json.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "engine/tokenizer/utf8.h"

namespace radial::server::openai {
namespace {

bool chat(const ResponseContext& c) { return c.req->endpoint == Endpoint::kChat; }

Json base(const ResponseContext& c, bool chunk) {
  Json j = Json::object();
  j["id"] = c.id;
  j["object"] = chat(c) ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion";
  j["created"] = c.created;
  j["model"] = c.model;
  return j;
}

// JSON has no -inf: OpenAI reports -9999.0 for tokens with no probability.
double lp_value(float lp) { return std::isfinite(lp) ? static_cast<double>(lp) : -9999.0; }

// A token's text as OpenAI shows it: its bytes when they are UTF-8, else
// "bytes:\xNN..." (a byte-level token holding part of a character).
std::string token_text(const std::string& piece) {
  size_t at = 0;
  while (at < piece.size()) {
    const size_t n = utf8::sequence_length(std::string_view(piece).substr(at));
    if (n == 0) break;
    at += n;
  }
  if (at == piece.size()) return piece;
  std::string out = "bytes:";
  char buf[8];
  for (unsigned char b : piece) {
    std::snprintf(buf, sizeof buf, "\\x%02x", b);
    out += buf;
  }
  return out;
}

Json bytes_of(const std::string& piece) {
  Json a = Json::array();
  for (unsigned char b : piece) a.push_back(static_cast<int>(b));
  return a;
}

std::string piece(const ResponseContext& c, int prev, int id) {
  try {
    return c.service->token_piece(prev, id);
  } catch (const Error&) {
    return "";  // (no tokenizer: token ids only)
  }
}

// Completions' `logprobs` object, built entry by entry (an echoed prompt's
// entries, then the generated tokens').
struct CompletionLogprobs {
  Json tokens = Json::array(), token_logprobs = Json::array(), top_logprobs = Json::array(),
       text_offset = Json::array();

  // Token `id` after `prev`, its text `p` starting at byte `offset`; `g`
  // holds its log-probabilities, null for none (an echoed prompt's first).
  void add(const ResponseContext& c, int prev, const std::string& p, size_t offset,
           const GeneratedToken* g) {
    tokens.push_back(token_text(p));
    text_offset.push_back(offset);
    if (g == nullptr) {
      token_logprobs.push_back(nullptr);
      top_logprobs.push_back(nullptr);
      return;
    }
    token_logprobs.push_back(lp_value(g->logprob));
    Json top = Json::object();
    for (const TokenLogprob& a : g->top_logprobs)
      top[token_text(piece(c, prev, a.token))] = lp_value(a.logprob);
    top_logprobs.push_back(top);
  }
  // The generated `tokens` (`prev`: the token before the first; `offset`:
  // bytes of the choice's text before them).
  void add_generated(const ResponseContext& c, const std::vector<GeneratedToken>& gen, int prev,
                     size_t offset) {
    for (const GeneratedToken& t : gen) {
      add(c, prev, piece(c, prev, t.token), offset, &t);
      offset += t.text.size();
      prev = t.token;
    }
  }
  Json json() const {
    return {{"tokens", tokens},
            {"token_logprobs", token_logprobs},
            {"top_logprobs", top_logprobs},
            {"text_offset", text_offset}};
  }
};

// The log-probabilities of `tokens` (`prev`: the token before the first;
// `offset`: bytes of the choice's text before them, for completions).
Json logprobs_json(const ResponseContext& c, const std::vector<GeneratedToken>& tokens, int prev,
                   size_t offset) {
  if (chat(c)) {
    Json content = Json::array();
    for (const GeneratedToken& t : tokens) {
      const std::string p = piece(c, prev, t.token);
      Json e = {{"token", token_text(p)}, {"logprob", lp_value(t.logprob)}, {"bytes", bytes_of(p)}};
      Json top = Json::array();
      for (const TokenLogprob& a : t.top_logprobs) {
        const std::string ap = piece(c, prev, a.token);
        top.push_back(
            {{"token", token_text(ap)}, {"logprob", lp_value(a.logprob)}, {"bytes", bytes_of(ap)}});
      }
      e["top_logprobs"] = top;
      content.push_back(e);
      prev = t.token;
    }
    return {{"content", content}};
  }
  CompletionLogprobs lp;
  lp.add_generated(c, tokens, prev, offset);
  return lp.json();
}

// The generated tokens a response shows: none when scoring (echo with
// max_tokens 0: the one token the engine sampled is left out).
const std::vector<GeneratedToken>& shown(const ResponseContext& c, const SequenceResult& r) {
  static const std::vector<GeneratedToken> kNone;
  return c.req->score_only ? kNone : r.tokens;
}

// Completions' echo of choice `index`'s prompt: returns its text (the
// tokens' pieces joined, ill-formed UTF-8 replaced); with `lp`, adds the
// prompt's log-probability entries there (the first token's null, as
// OpenAI's).
std::string echo_of(const ResponseContext& c, int index, const SequenceResult& r,
                    CompletionLogprobs* lp) {
  const std::vector<int>& prompt = c.req->choices.at(index).prompt;
  std::string raw;
  int prev = -1;
  for (size_t k = 0; k < prompt.size(); ++k) {
    const std::string p = piece(c, prev, prompt[k]);
    if (lp)
      lp->add(
          c, prev, p, raw.size(),
          k == 0 || k > r.prompt_token_logprobs.size() ? nullptr : &r.prompt_token_logprobs[k - 1]);
    raw += p;
    prev = prompt[k];
  }
  return utf8::lossy(raw);
}

// Per token depth (and path with radial_path).
void add_radial_tokens(const ResponseContext& c, const std::vector<GeneratedToken>& tokens,
                       Json* radial) {
  Json depth = Json::array(), path = Json::array();
  for (const GeneratedToken& t : tokens) {
    depth.push_back(t.depth);
    if (c.req->radial_path) path.push_back(t.path);
  }
  (*radial)["depth"] = depth;
  if (c.req->radial_path) (*radial)["path"] = path;
}

double compute_fraction(const std::vector<GeneratedToken>& tokens) {
  double sum = 0;
  for (const auto& t : tokens) sum += t.compute_fraction;
  return tokens.empty() ? 0.0 : sum / tokens.size();
}

Json usage_json(const ResponseContext& c, const std::vector<SequenceResult>& results) {
  long prompt = 0, completion = 0;
  for (int p : c.req->prompt_tokens) prompt += p;
  for (const auto& r : results) completion += static_cast<long>(shown(c, r).size());
  // Prompt tokens found in the prefix cache, counted per prompt (its first choice).
  long cached = 0;
  const size_t n = static_cast<size_t>(std::max(1, c.req->n));
  for (size_t i = 0; i < results.size(); i += n) cached += results[i].usage.cached_prompt_tokens;
  return {{"prompt_tokens", prompt},
          {"completion_tokens", completion},
          {"total_tokens", prompt + completion},
          {"prompt_tokens_details", {{"cached_tokens", cached}}}};
}

Json radial_summary(const ResponseContext& c, const std::vector<SequenceResult>& results) {
  double depth = 0, compute = 0;
  long n = 0;
  for (const auto& r : results)
    for (const auto& t : shown(c, r)) {
      depth += t.depth;
      compute += t.compute_fraction;
      ++n;
    }
  return {{"num_layers", c.service->model_info().num_layers},
          {"mean_depth", n ? depth / n : 0.0},
          {"compute_fraction", n ? compute / n : 0.0}};
}

// OpenAI's tool_calls list (a stream's delta numbers them).
Json tool_calls_json(const ToolReply& t, bool delta) {
  Json calls = Json::array();
  for (size_t k = 0; k < t.calls.size(); ++k) {
    Json call = Json::object();
    if (delta) call["index"] = static_cast<int>(k);
    call["id"] = t.calls[k].id;
    call["type"] = "function";
    call["function"] = {{"name", t.calls[k].name}, {"arguments", t.calls[k].arguments}};
    calls.push_back(call);
  }
  return calls;
}

int last_prompt_token(const ResponseContext& c, int index) {
  const auto& p = c.req->choices.at(index).prompt;
  return p.empty() ? -1 : p.back();
}

}  // namespace

Json error_body(const ApiError& e) {
  Json err = {{"message", e.what()},
              {"type", e.type()},
              {"param", e.param().empty() ? Json() : Json(e.param())},
              {"code", e.code().empty() ? Json() : Json(e.code())}};
  return {{"error", err}};
}

const char* finish_reason(FinishReason r) {
  switch (r) {
    case FinishReason::kLength:
      return "length";
    case FinishReason::kStop:
    case FinishReason::kStopString:
      return "stop";
    case FinishReason::kCancelled:
      return "cancelled";
    case FinishReason::kError:
      return "error";
  }
  return "stop";
}

Json full_response(const ResponseContext& c, const std::vector<SequenceResult>& results) {
  Json j = base(c, false);
  Json choices = Json::array();
  for (size_t i = 0; i < results.size(); ++i) {
    const SequenceResult& r = results[i];
    const std::vector<GeneratedToken>& tokens = shown(c, r);
    static const std::string kNoText;
    const std::string& text = c.req->score_only ? kNoText : r.text;
    const int last = last_prompt_token(c, static_cast<int>(i));
    Json ch = {{"index", static_cast<int>(i)}};
    const std::optional<ToolReply> calls = choice_tool_calls(c, r);
    if (chat(c)) {
      ch["message"] = {{"role", "assistant"}, {"content", text}};
      if (calls) {
        ch["message"]["content"] = calls->content ? Json(*calls->content) : Json();
        ch["message"]["tool_calls"] = tool_calls_json(*calls, false);
      }
      ch["logprobs"] = c.req->logprobs ? logprobs_json(c, tokens, last, 0) : Json();
    } else {
      CompletionLogprobs lp;  // (the echoed prompt's entries first)
      const std::string echo =
          c.req->echo ? echo_of(c, static_cast<int>(i), r, c.req->logprobs ? &lp : nullptr) : "";
      ch["text"] = echo + text;
      if (c.req->logprobs) lp.add_generated(c, tokens, last, echo.size());
      ch["logprobs"] = c.req->logprobs ? lp.json() : Json();
    }
    ch["finish_reason"] = c.req->score_only ? "length"
                          : calls           ? "tool_calls"
                                            : finish_reason(r.finish);
    Json radial = {{"mean_depth", c.req->score_only ? 0.0 : r.usage.mean_depth},
                   {"compute_fraction", compute_fraction(tokens)}};
    add_radial_tokens(c, tokens, &radial);
    ch["radial"] = radial;
    choices.push_back(ch);
  }
  j["choices"] = choices;
  j["usage"] = usage_json(c, results);
  j["radial"] = radial_summary(c, results);
  return j;
}

Json role_chunk(const ResponseContext& c, int index) {
  Json j = base(c, true);
  j["choices"] = Json::array({{{"index", index},
                               {"delta", {{"role", "assistant"}, {"content", ""}}},
                               {"logprobs", Json()},
                               {"finish_reason", Json()}}});
  if (c.req->include_usage) j["usage"] = Json();
  return j;
}

Json token_chunk(const ResponseContext& c, int index, const std::string& text,
                 const std::vector<GeneratedToken>& tokens, int prev_token, size_t text_offset) {
  Json j = base(c, true);
  Json ch = {{"index", index}};
  if (chat(c)) {
    ch["delta"] = {{"content", text}};
  } else {
    ch["text"] = text;
  }
  ch["logprobs"] = c.req->logprobs ? logprobs_json(c, tokens, prev_token, text_offset) : Json();
  ch["finish_reason"] = Json();
  Json radial = Json::object();
  add_radial_tokens(c, tokens, &radial);
  ch["radial"] = radial;
  j["choices"] = Json::array({ch});
  if (c.req->include_usage) j["usage"] = Json();
  return j;
}

Json finish_chunk(const ResponseContext& c, int index, const std::string& tail,
                  const SequenceResult& result) {
  Json j = base(c, true);
  Json ch = {{"index", index}};
  if (chat(c)) {
    ch["delta"] = tail.empty() ? Json::object() : Json({{"content", tail}});
  } else {
    ch["text"] = tail;
  }
  ch["logprobs"] = Json();
  // (Scoring: max_tokens 0 ends by length, whatever the one token run was.)
  ch["finish_reason"] = c.req->score_only              ? "length"
                        : choice_tool_calls(c, result) ? "tool_calls"
                                                       : finish_reason(result.finish);
  ch["radial"] = {{"mean_depth", c.req->score_only ? 0.0 : result.usage.mean_depth},
                  {"compute_fraction", compute_fraction(shown(c, result))}};
  j["choices"] = Json::array({ch});
  if (c.req->include_usage) j["usage"] = Json();
  return j;
}

std::optional<ToolReply> choice_tool_calls(const ResponseContext& c, const SequenceResult& r) {
  if (!chat(c) || c.req->score_only || !c.req->tools.reads_calls()) return std::nullopt;
  if (r.finish != FinishReason::kStop && r.finish != FinishReason::kStopString) return std::nullopt;
  return read_tool_calls(r.text, c.req->tools);
}

Json tool_calls_chunk(const ResponseContext& c, int index, const std::string& content,
                      const ToolReply& calls) {
  Json j = base(c, true);
  Json delta = Json::object();
  if (!content.empty()) delta["content"] = content;
  delta["tool_calls"] = tool_calls_json(calls, true);
  j["choices"] = Json::array(
      {{{"index", index}, {"delta", delta}, {"logprobs", Json()}, {"finish_reason", Json()}}});
  if (c.req->include_usage) j["usage"] = Json();
  return j;
}

Json echo_chunk(const ResponseContext& c, int index) {
  return token_chunk(c, index, echo_of(c, index, SequenceResult{}, nullptr), {}, -1, 0);
}

Json usage_chunk(const ResponseContext& c, const std::vector<SequenceResult>& results) {
  Json j = base(c, true);
  j["choices"] = Json::array();
  j["usage"] = usage_json(c, results);
  j["radial"] = radial_summary(c, results);
  return j;
}

}  // namespace radial::server::openai
