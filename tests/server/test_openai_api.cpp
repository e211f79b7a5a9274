// The OpenAI API's translation layer without HTTP: request bodies to engine
// requests (every field rule: defaults, types and ranges named in the
// error, unsupported fields refused, unknown ones ignored, hostile JSON),
// chat rendering and its exact token count, and the response objects.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>

#include "engine/model_loader.h"
#include "engine/tokenizer.h"
#include "server/openai/api.h"
#include "server/openai/request_parse.h"
#include "server/openai/response_json.h"
#include "server/openai/tokenizer_api.h"
#include "tests/unit/npm_data.h"
#include "tests/unit/test_util.h"

using namespace radial;
using namespace radial::test;
using namespace radial::server::openai;
using Json = nlohmann::ordered_json;

namespace {

// stories260K: a SentencePiece model without a chat template.
EngineService& stories() {
  static EngineService* svc = [] {
    ServiceOptions o;
    o.model.model = default_model_dir();
    o.backend.kv_blocks = 512;
    o.backend.max_slots = 256;
    o.backend.threads = 1;
    return new EngineService(o);
  }();
  return *svc;
}

// Random weights with Llama-3.1's real tokenizer.json and chat template.
EngineService& llama3() {
  static TempDir dir("openai-llama3");
  static EngineService* svc = [] {
    ModelConfig c;
    c.hidden_size = 16;
    c.intermediate_size = 32;
    c.num_layers = 2;
    c.num_heads = 2;
    c.num_kv_heads = 1;
    c.head_dim = 8;
    c.vocab_size = 128256;
    c.max_position_embeddings = 4096;
    c.tie_word_embeddings = true;
    c.bos_token_id = 128000;
    c.eos_token_ids = {128001, 128009};
    save_hf_model(make_random_model(c, 5), dir.str());
    const std::string tok = npm_tokenizer_dir("llama3_1");
    for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
      std::filesystem::copy_file(tok + "/" + f, dir.file(f));
    ServiceOptions o;
    o.model.model = dir.str();
    o.backend.kv_blocks = 1024;
    o.backend.max_slots = 256;
    o.backend.threads = 1;
    return new EngineService(o);
  }();
  return *svc;
}

ParsedRequest completion(const std::string& body, const std::string& served = "stories260K") {
  return parse_request(Endpoint::kCompletions, parse_json_body(body), stories(), served);
}

ParsedRequest chat(const std::string& body) {
  return parse_request(Endpoint::kChat, parse_json_body(body), llama3(), "model");
}

// The ApiError `f` throws: status and param.
template <typename F>
ApiError error_of(F&& f) {
  try {
    f();
  } catch (const ApiError& e) {
    return e;
  }
  FAIL("expected an ApiError");
  return ApiError(0, "", "");
}

}  // namespace

TEST_CASE("openai: completion defaults and prompts", "[openai]") {
  ParsedRequest r = completion(R"({"model": "stories260K", "prompt": "Once upon a time"})");
  REQUIRE(r.choices.size() == 1);
  const GenerateRequest& g = r.choices[0];
  CHECK(g.prompt == std::vector<int>{1, 403, 407, 261, 378});  // BOS + SentencePiece
  CHECK(g.max_tokens == 16);                                   // OpenAI's completions default
  CHECK(g.sampling.temperature == 1.f);                        // ... and sampling default
  CHECK(g.sampling.top_p == 1.f);
  CHECK_FALSE(r.stream);
  CHECK(r.prompt_tokens == std::vector<int>{5});
  CHECK_FALSE(g.mode);

  // Token ids, and several prompts x n choices in index order, seeds seed + j.
  r = completion(R"({"prompt": [[1, 5, 9], "Lily"], "n": 2, "seed": 40, "max_tokens": 3,
                     "temperature": 0.5, "top_k": 7, "repetition_penalty": 1.1,
                     "presence_penalty": 0.5, "frequency_penalty": -1.25,
                     "logit_bias": {"50": -100, "9": 2.5},
                     "stop": ["\n", "The"], "routing_mode": "forward", "threshold": 0.4,
                     "ignore_eos": true, "radial_path": true, "whatever": {"x": 1}})");
  REQUIRE(r.choices.size() == 4);
  CHECK(r.num_prompts == 2);
  CHECK(r.choices[0].prompt == std::vector<int>{1, 5, 9});
  CHECK(r.choices[1].prompt == std::vector<int>{1, 5, 9});
  CHECK(r.choices[2].prompt == stories().tokenize("Lily"));
  CHECK(r.choices[0].sampling.seed == 40);
  CHECK(r.choices[1].sampling.seed == 41);
  CHECK(r.choices[2].sampling.seed == 40);
  CHECK(r.choices[3].max_tokens == 3);
  CHECK(r.choices[3].sampling.top_k == 7);
  CHECK(r.choices[3].sampling.repetition_penalty == Approx(1.1f));
  CHECK(r.choices[3].sampling.presence_penalty == 0.5f);
  CHECK(r.choices[3].sampling.frequency_penalty == -1.25f);
  REQUIRE(r.choices[3].sampling.logit_bias.size() == 2);  // sorted by token id
  CHECK(r.choices[3].sampling.logit_bias[0].token == 9);
  CHECK(r.choices[3].sampling.logit_bias[0].bias == 2.5f);
  CHECK(r.choices[3].sampling.logit_bias[1].token == 50);
  CHECK(r.choices[3].sampling.logit_bias[1].bias == -100.f);
  CHECK(r.choices[3].stop == std::vector<std::string>{"\n", "The"});
  CHECK(*r.choices[3].mode == RouteMode::kForward);
  CHECK(*r.choices[3].threshold == Approx(0.4f));
  CHECK(r.choices[3].ignore_eos);
  CHECK(r.radial_path);
  CHECK(completion(R"({"prompt": "x", "stop": "END"})").choices[0].stop ==
        std::vector<std::string>{"END"});
  // echo: with logprobs the prompt is scored; max_tokens 0 (scoring only)
  // runs one token that the response leaves out.
  r = completion(R"({"prompt": "Once upon a time", "echo": true, "logprobs": 2, "max_tokens": 0})");
  CHECK(r.echo);
  CHECK(r.score_only);
  CHECK(r.choices[0].max_tokens == 1);
  CHECK(r.choices[0].prompt_logprobs == 2);
  CHECK(r.choices[0].logprobs == 2);
  r = completion(R"({"prompt": "", "echo": true, "stream": true})");  // (no logprobs)
  CHECK(r.choices[0].prompt == std::vector<int>{1});
  CHECK(r.choices[0].prompt_logprobs == -1);
  CHECK_FALSE(r.score_only);
  CHECK(completion(R"({"prompt": "x"})").choices[0].prompt_logprobs == -1);
  // Unseeded choices draw different seeds.
  r = completion(R"({"prompt": "x", "n": 3})");
  CHECK(r.choices[0].sampling.seed != r.choices[1].sampling.seed);
}

TEST_CASE("openai: every bad field is a 400 naming it", "[openai]") {
  struct Case {
    const char* body;
    const char* param;
  };
  const Case cases[] = {
      {R"({"prompt": "x", "temperature": "hot"})", "temperature"},
      {R"({"prompt": "x", "temperature": 2.5})", "temperature"},
      {R"({"prompt": "x", "max_tokens": 1.5})", "max_tokens"},
      {R"({"prompt": "x", "max_tokens": 0})", "max_tokens"},
      {R"({"prompt": "x", "n": 0})", "n"},
      {R"({"prompt": "x", "n": 17})", "n"},
      {R"({"prompt": "x", "top_p": 0})", "top_p"},
      {R"({"prompt": "x", "stop": [1]})", "stop"},
      {R"({"prompt": "x", "stream": "yes"})", "stream"},
      {R"({"prompt": "x", "stream_options": {"include_usage": true}})", "stream_options"},
      {R"({"prompt": "x", "logprobs": 21})", "logprobs"},
      {R"({"prompt": "x", "routing_mode": "sideways"})", "routing_mode"},
      {R"({"prompt": "x", "threshold": 3})", "threshold"},
      {R"({"prompt": [1, -2]})", "prompt"},
      {R"({"prompt": {}})", "prompt"},
      {R"({"max_tokens": 3})", "prompt"},
      {R"({"prompt": "x", "presence_penalty": 2.5})", "presence_penalty"},
      {R"({"prompt": "x", "frequency_penalty": "-1"})", "frequency_penalty"},
      {R"({"prompt": "x", "logit_bias": [50, 10]})", "logit_bias"},
      {R"({"prompt": "x", "logit_bias": {"-1": 10}})", "logit_bias"},
      {R"({"prompt": "x", "logit_bias": {"five": 10}})", "logit_bias"},
      {R"({"prompt": "x", "logit_bias": {"50": 101}})", "logit_bias"},
      {R"({"prompt": "x", "logit_bias": {"50": "up"}})", "logit_bias"},
      {R"({"prompt": "x", "logit_bias": {"512": 1}})", "logit_bias"},  // vocabulary: 512
      {R"({"prompt": "x", "logit_bias": {"7": 1, "07": 2}})", "logit_bias"},
      // Known but unsupported: refused, never silently dropped.
      {R"({"prompt": "x", "echo": true, "logprobs": 1, "stream": true})", "echo"},
      {R"({"prompt": "x", "suffix": "y"})", "suffix"},
      {R"({"prompt": "x", "best_of": 2})", "best_of"},
  };
  for (const Case& c : cases) {
    INFO(c.body);
    const ApiError e = error_of([&] { completion(c.body); });
    CHECK(e.status() == 400);
    CHECK(e.param() == c.param);
    CHECK(e.type() == "invalid_request_error");
  }
  // Zero penalties and an empty logit_bias are fine (clients send defaults).
  CHECK_NOTHROW(completion(R"({"prompt": "x", "presence_penalty": 0, "logit_bias": {}})"));
  // Another model: 404 model_not_found.
  const ApiError e = error_of([&] { completion(R"({"model": "gpt-4o", "prompt": "x"})"); });
  CHECK(e.status() == 404);
  CHECK(e.code() == "model_not_found");
}

TEST_CASE("openai: hostile bodies are clear 400s", "[openai]") {
  for (const std::string& body : {std::string("{"), std::string("[1, 2]"), std::string("\"x\""),
                                  std::string(100, '[') + std::string(100, ']'),
                                  "{\"a\":" + std::string(70, '[') + std::string(70, ']') + "}"}) {
    INFO(body.substr(0, 40));
    const ApiError e = error_of([&] { parse_json_body(body); });
    CHECK(e.status() == 400);
  }
  // Invalid UTF-8 text and text far beyond the context: refused before any work.
  ApiError e = error_of([&] { completion("{\"prompt\": \"a\xff\"}"); });
  CHECK(e.status() == 400);
  CHECK(e.param() == "prompt");
  CHECK_THAT(e.what(), Catch::Contains("UTF-8"));
  e = error_of([&] { completion("{\"prompt\": \"" + std::string(1 << 20, 'a') + "\"}"); });
  CHECK(e.status() == 400);
  CHECK_THAT(e.what(), Catch::Contains("exceeds the limit"));
}

TEST_CASE("openai: chat messages through the model's template, one BOS, exact tokens", "[openai]") {
  const ParsedRequest r = chat(R"({"messages": [
      {"role": "system", "content": "Be brief."},
      {"role": "user", "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": "there <|eot_id|>"}]}],
      "max_completion_tokens": 7, "max_tokens": 99, "logprobs": true, "top_logprobs": 3,
      "chat_template_kwargs": {"date_string": "26 Jul 2024"}})");
  REQUIRE(r.choices.size() == 1);
  const GenerateRequest& g = r.choices[0];
  CHECK(g.max_tokens == 7);  // max_completion_tokens wins
  CHECK(g.logprobs == 3);
  // The rendering, tokenized with its special tokens and nothing added.
  const Json messages = Json::parse(
      R"([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi\nthere <|eot_id|>"}])");
  ChatRenderOptions o;
  o.extra = {{"date_string", "26 Jul 2024"}};
  const std::string text = llama3().render_chat(messages, o);
  CHECK(text.rfind("<|begin_of_text|><|start_header_id|>system<|end_header_id|>", 0) == 0);
  CHECK(g.prompt == llama3().tokenize(text, false));
  CHECK(std::count(g.prompt.begin(), g.prompt.end(), 128000) == 1);  // one BOS
  CHECK(g.prompt.front() == 128000);
  // "<|eot_id|>" inside the user's text is the special token, as in Hugging Face.
  CHECK(std::count(g.prompt.begin(), g.prompt.end(), 128009) == 3);
  CHECK(r.prompt_tokens.front() == static_cast<int>(g.prompt.size()));
  // Without a max: until the model stops, within the context and the limit.
  const ParsedRequest d = chat(R"({"messages": [{"role": "user", "content": "x"}]})");
  CHECK(d.choices[0].max_tokens == 4096 - static_cast<int>(d.choices[0].prompt.size()));
}

TEST_CASE("openai: chat fields radiald refuses", "[openai]") {
  struct Case {
    const char* body;
    const char* param;
  };
  const Case cases[] = {
      {R"({"messages": []})", "messages"},
      {R"({"messages": [{"content": "x"}]})", "messages[0].role"},
      {R"({"messages": [{"role": "wizard", "content": "x"}]})", "messages[0].role"},
      {R"({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]})",
       "messages[0].content[0].type"},
      {R"({"messages": [{"role": "user", "content": 5}]})", "messages[0].content"},
      {R"({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function"}]})",
       "tools[0].function"},
      {R"({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "retrieval"}]})",
       "tools[0].type"},
      {R"({"messages": [{"role": "user", "content": "x"}], "tools": {}})", "tools"},
      {R"({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function",
           "function": {"name": "has space"}}]})",
       "tools[0].function.name"},
      {R"({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function",
           "function": {"name": "f"}}, {"type": "function", "function": {"name": "f"}}]})",
       "tools[1].function.name"},
      {R"({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function",
           "function": {"name": "f", "strict": true, "parameters": {"type": "object",
             "properties": {"a": {"type": "string", "pattern": "\\bx"}}}}}]})",
       "tools[0].function.parameters"},
      {R"({"messages": [{"role": "user", "content": "x"}], "tool_choice": "required"})",
       "tool_choice"},
      {R"({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function",
           "function": {"name": "f"}}], "tool_choice": {"type": "function", "function": {"name": "g"}}})",
       "tool_choice"},
      {R"({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function",
           "function": {"name": "f"}}], "tool_choice": "sometimes"})",
       "tool_choice"},
      {R"({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function",
           "function": {"name": "f"}}], "tool_choice": "required",
           "response_format": {"type": "json_object"}})",
       "tool_choice"},
      {R"({"messages": [{"role": "user", "content": "x"}], "functions": [{"name": "f"}]})",
       "functions"},
      {R"({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_schema"}})",
       "response_format"},
      {R"({"messages": [{"role": "user", "content": "x"}], "response_format": "json"})",
       "response_format"},
      {R"({"messages": [{"role": "user", "content": "x"}],
           "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": "{}"}}})",
       "response_format"},
      {R"({"messages": [{"role": "user", "content": "x"}],
           "response_format": {"type": "json_schema", "json_schema": {"schema": {}, "strict": "yes"}}})",
       "response_format"},
      {R"({"messages": [{"role": "user", "content": "x"}],
           "response_format": {"type": "json_schema", "json_schema": {"name": 3, "schema": {}}}})",
       "response_format"},
      {R"({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "grammar"}})",
       "response_format"},
      {R"({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": 1}})",
       "response_format"},
      {R"({"messages": [{"role": "user", "content": "x"}], "top_logprobs": 2})", "top_logprobs"},
  };
  for (const Case& c : cases) {
    INFO(c.body);
    const ApiError e = error_of([&] { chat(c.body); });
    CHECK(e.status() == 400);
    CHECK(e.param() == c.param);
  }
  CHECK_NOTHROW(chat(R"({"messages": [{"role": "user", "content": "x"}], "tools": [],
                         "tool_choice": "none", "response_format": {"type": "text"}})"));
  // JSON mode, on chat and completions.
  CHECK_FALSE(chat(R"({"messages": [{"role": "user", "content": "x"}]})").choices[0].json_object);
  CHECK(chat(R"({"messages": [{"role": "user", "content": "x"}],
                 "response_format": {"type": "json_object"}})")
            .choices[0]
            .json_object);
  CHECK(completion(R"({"model": "stories260K", "prompt": "x", "n": 2,
                       "response_format": {"type": "json_object"}})")
            .choices[1]
            .json_object);
  // JSON Schema mode: the schema's text, its keys in the request's order
  // (the order properties are generated in).
  const GenerateRequest js = chat(R"({"messages": [{"role": "user", "content": "x"}],
      "response_format": {"type": "json_schema", "json_schema": {"name": "person", "strict": true,
        "schema": {"type": "object", "properties": {"z": {"type": "string"}, "a": {"type": "integer"}},
                   "required": ["z", "a"], "additionalProperties": false}}}})")
                                 .choices[0];
  CHECK_FALSE(js.json_object);
  CHECK(js.json_schema ==
        R"({"type":"object","properties":{"z":{"type":"string"},"a":{"type":"integer"}},)"
        R"("required":["z","a"],"additionalProperties":false})");
  // A model without a chat template: chat is a 400 saying so.
  const ApiError e = error_of([&] {
    parse_request(Endpoint::kChat,
                  parse_json_body(R"({"messages": [{"role": "user", "content": "x"}]})"), stories(),
                  "stories260K");
  });
  CHECK(e.status() == 400);
  CHECK_THAT(e.what(), Catch::Contains("chat template"));
}

TEST_CASE("openai: response objects", "[openai]") {
  const ParsedRequest req = completion(R"({"prompt": [[1, 5], [1, 6, 7]], "logprobs": 1})");
  ResponseContext ctx{&req, &stories(), "cmpl-1", 1700000000, "stories260K"};
  std::vector<SequenceResult> results(2);
  for (int i = 0; i < 2; ++i) {
    results[i].finish = i ? FinishReason::kStopString : FinishReason::kLength;
    for (int k = 0; k < 2; ++k) {
      GeneratedToken t;
      t.token = 403 + k;
      t.text = k ? " b" : "a";
      t.depth = 3 + k;
      t.path = {0, 2};
      t.compute_fraction = 0.5;
      t.logprob = k ? -INFINITY : -0.25f;
      t.top_logprobs = {{403, -0.25f}};
      results[i].tokens.push_back(t);
    }
    results[i].text = "a b";
    results[i].usage.generated_tokens = 2;
    results[i].usage.mean_depth = 3.5;
  }
  const Json j = full_response(ctx, results);
  CHECK(j["object"] == "text_completion");
  CHECK(j["choices"].size() == 2);
  CHECK(j["choices"][0]["finish_reason"] == "length");
  CHECK(j["choices"][1]["finish_reason"] == "stop");
  CHECK(j["choices"][0]["text"] == "a b");
  CHECK(j["choices"][0]["radial"]["depth"] == Json::array({3, 4}));
  CHECK(j["choices"][0]["logprobs"]["token_logprobs"][1] == -9999.0);  // -inf as OpenAI writes it
  CHECK(j["choices"][0]["logprobs"]["text_offset"] == Json::array({0, 1}));
  CHECK(j["usage"]["prompt_tokens"] == 5);
  CHECK(j["usage"]["completion_tokens"] == 4);
  CHECK(j["usage"]["total_tokens"] == 9);
  CHECK(j["radial"]["mean_depth"] == Approx(3.5));
  CHECK(j["radial"]["compute_fraction"] == Approx(0.5));
  // Chunks: text of the tokens, the held-back tail with the finish reason.
  const Json tc = token_chunk(ctx, 1, "a", {results[1].tokens[0]}, 1, 0);
  CHECK(tc["choices"][0]["index"] == 1);
  CHECK(tc["choices"][0]["text"] == "a");
  CHECK(tc["choices"][0]["finish_reason"].is_null());
  const Json fc = finish_chunk(ctx, 1, " b", results[1]);
  CHECK(fc["choices"][0]["text"] == " b");
  CHECK(fc["choices"][0]["finish_reason"] == "stop");
  const Json err = error_body(bad_request("temperature", "temperature must be a number"));
  CHECK(err["error"]["param"] == "temperature");
  CHECK(err["error"]["type"] == "invalid_request_error");
  CHECK(err["error"]["code"].is_null());
}

TEST_CASE("openai: vLLM's tokenizer routes", "[openai]") {
  auto body = [](const char* s) { return parse_json_body(s); };
  // /tokenize: with and without special tokens; chat messages as a chat
  // completion's prompt.
  Json t = tokenize_response(body(R"({"prompt": "Once upon a time"})"), stories());
  CHECK(t["tokens"] == Json::array({1, 403, 407, 261, 378}));
  CHECK(t["count"] == 5);
  CHECK(t["max_model_len"] == stories().model_info().context_length);
  t = tokenize_response(body(R"({"prompt": "Once upon a time", "add_special_tokens": false})"),
                        stories());
  CHECK(t["tokens"] == Json::array({403, 407, 261, 378}));
  const char* chat_body = R"({"messages": [{"role": "user", "content": "Hi"}],
                              "chat_template_kwargs": {"date_string": "26 Jul 2024"}})";
  CHECK(tokenize_response(body(chat_body), llama3())["tokens"].get<std::vector<int>>() ==
        chat(chat_body).choices[0].prompt);
  // /detokenize keeps special tokens as their text.
  CHECK(detokenize_response(body(R"({"tokens": [403, 407, 261, 378]})"), stories())["prompt"] ==
        "Once upon a time");
  const std::vector<int> ids = llama3().tokenize("<|begin_of_text|>Hi<|eot_id|>", false);
  CHECK(detokenize_response(Json{{"tokens", ids}}, llama3())["prompt"] ==
        "<|begin_of_text|>Hi<|eot_id|>");
  // /tokenizer_info: the special tokens' text, the chat template's source.
  Json info = tokenizer_info(stories());
  CHECK(info["tokenizer_class"] == "sentencepiece");
  CHECK(info["bos_token"] == "<s>");
  CHECK(info["eos_token"] == "</s>");
  CHECK(info["chat_template"].is_null());
  CHECK(info["vocab_size"] == 512);
  info = tokenizer_info(llama3());
  CHECK(info["bos_token"] == "<|begin_of_text|>");
  CHECK(info["chat_template"].get<std::string>().find("<|start_header_id|>") != std::string::npos);
  // Bad bodies: 400s naming the field.
  struct Case {
    const char* body;
    const char* param;
    bool tokenize;  // else detokenize
  };
  for (const Case& c :
       {Case{R"({"prompt": 5})", "prompt", true}, Case{R"({})", "prompt", true},
        Case{R"({"prompt": "x", "messages": []})", "messages", true},
        Case{R"({"prompt": "x", "add_special_tokens": "yes"})", "add_special_tokens", true},
        Case{R"({"tokens": "1 2"})", "tokens", false},
        Case{R"({"tokens": [1, 512]})", "tokens", false},
        Case{R"({"tokens": [1.5]})", "tokens", false}}) {
    INFO(c.body);
    const ApiError e = error_of([&] {
      if (c.tokenize)
        tokenize_response(body(c.body), stories());
      else
        detokenize_response(body(c.body), stories());
    });
    CHECK(e.status() == 400);
    CHECK(e.param() == c.param);
  }
}
