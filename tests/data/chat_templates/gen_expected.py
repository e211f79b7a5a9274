#!/usr/bin/python3
"""Writes expected.json: every template of templates.json rendered over the
conversations of conversations.json, and every snippet of snippets.json, by Python's jinja2 (Debian's
python3-jinja2) with the environment Hugging Face transformers uses for
apply_chat_template: ImmutableSandboxedEnvironment(trim_blocks=True,
lstrip_blocks=True, extensions=[loopcontrols]), its tojson, raise_exception
and strftime_now (frozen at `now` so the output is reproducible). A
rendering that raises is recorded as {"error": message}.
    /usr/bin/python3 tests/data/chat_templates/gen_expected.py
The npm templates are read from tests/npm/node_modules (scripts/install-npm-deps.sh)."""
import datetime
import json
import os
import sys

import jinja2
import jinja2.ext
from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))


def load_templates():
    spec = json.load(open(os.path.join(HERE, "templates.json")))
    out = {}
    for name, t in spec.items():
        if "npm" in t:
            cfg = json.load(open(os.path.join(ROOT, "tests/npm/node_modules", t["npm"], "models/tokenizer_config.json")))
            source = cfg["chat_template"]
        else:
            source = open(os.path.join(HERE, t["file"]), encoding="utf-8").read()
        out[name] = (source, t["tokens"])
    return out


def render(source, tokens, conv, now):
    def raise_exception(message):
        raise TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return now.strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    template = env.from_string(source)
    kwargs = dict(tokens)
    kwargs.update(conv.get("extra", {}))
    return template.render(messages=conv["messages"], tools=conv.get("tools"), documents=None,
                           add_generation_prompt=conv.get("add_generation_prompt", True), **kwargs)


def main():
    conversations = json.load(open(os.path.join(HERE, "conversations.json")))
    now_ts = conversations["now"]
    now = datetime.datetime.fromtimestamp(now_ts)
    expected = {"jinja2": jinja2.__version__, "now": now_ts, "renderings": {}}
    for name, (source, tokens) in load_templates().items():
        results = {}
        for conv in conversations["conversations"]:
            try:
                results[conv["name"]] = {"text": render(source, tokens, conv, now)}
            except Exception as e:  # noqa: BLE001 (raise_exception, undefined values, type errors)
                results[conv["name"]] = {"error": str(e)}
        expected["renderings"][name] = results
    snippets = {}
    for snip in json.load(open(os.path.join(HERE, "snippets.json"))):
        try:
            snippets[snip["name"]] = {"text": render(snip["template"], snip["vars"], {"messages": []}, now)}
        except Exception as e:  # noqa: BLE001
            snippets[snip["name"]] = {"error": str(e)}
    expected["snippets"] = snippets
    with open(os.path.join(HERE, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print("expected.json:", sum(len(r) for r in expected["renderings"].values()), "renderings")


if __name__ == "__main__":
    sys.exit(main())
