// Chat templates: the real templates of Llama 3.x, Qwen 2.5/3/3.5, DeepSeek, Gemma and others, rendered
// over conversations (system, multi-turn, tools and tool calls, empty content, thinking on/off), byte for
// byte as Python jinja2 renders them with Hugging Face's settings (tests/data/chat_templates/PROVENANCE.md);
// templates that raise must raise. Then the Jinja features one by one, and hostile templates that must
// stop at a budget.
#include <nlohmann/json.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/default_model.h"
#include "formats/gguf_reader.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"
#include "unit/tokenizer/gz_lines.h"

namespace loom::tokenizer {
namespace {

using json = nlohmann::ordered_json;

constexpr int64_t kNow = 1767225600;  // the goldens' strftime_now clock, 2026-01-01 UTC

std::string data_dir() {
    if (const char* d = std::getenv("LOOM_CHAT_TEMPLATE_DATA"); d && *d) return d;
    const char* d = std::getenv("LOOM_TEST_DATA_DIR");
    return std::string(d && *d ? d : LOOM_TEST_DATA_DIR) + "/chat_templates";
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

ChatTemplateOptions test_options() {
    ChatTemplateOptions o;
    o.limits.now_unix = kNow;
    return o;
}

TEST(ChatTemplateGolden, MatchesJinja2) {
    const std::string dir = data_dir();
    const json convs = json::parse(read_file(dir + "/conversations.json"));
    const std::vector<std::string> cases = read_gz_lines(dir + "/cases.jsonl.gz");
    ASSERT_FALSE(cases.empty()) << "no cases in " << dir;
    std::map<std::string, Result<ChatTemplate>> templates;
    size_t n = 0, mismatches = 0;
    std::map<std::string, int> bad_templates;
    for (const std::string& line : cases) {
        const json c = json::parse(line);
        const std::string name = c["template"];
        auto it = templates.find(name);
        if (it == templates.end())
            it = templates.emplace(name, ChatTemplate::parse(read_file(dir + "/templates/" + name), test_options()))
                     .first;
        ++n;
        const json& ctx = convs[c["conversation"].get<std::string>()];
        std::string what;
        if (!it->second.ok()) {
            what = "parse: " + it->second.error().message();
        } else {
            auto r = it->second->render(ctx);
            if (c.contains("error")) {
                if (r.ok()) what = "rendered, but jinja2 raised " + c["error"].get<std::string>();
            } else if (!r.ok()) {
                what = "error: " + r.error().message();
            } else if (*r != c["expected"].get<std::string>()) {
                const std::string& want = c["expected"].get_ref<const std::string&>();
                size_t k = 0;
                while (k < want.size() && k < r->size() && want[k] == (*r)[k]) ++k;
                what = fmt::format("differs at byte {}: jinja2 {} | loom {}", k, json(want.substr(k, 60)).dump(),
                                   json(r->substr(k, 60)).dump());
            }
        }
        if (!what.empty()) {
            ++mismatches;
            if (++bad_templates[name] == 1 && bad_templates.size() <= 15)
                ADD_FAILURE() << name << " / " << c["conversation"].get<std::string>() << ": " << what;
        }
    }
    EXPECT_EQ(mismatches, 0u) << "of " << n << " cases, in " << bad_templates.size() << " templates";
    std::printf("[ chat templates ] %zu cases over %zu templates, %zu mismatches\n", n, templates.size(), mismatches);
}

// Jinja features one by one; expected outputs rendered by jinja2 with HF's settings (see the golden tool).
struct FeatureCase {
    const char* name;
    const char* source;
    const char* expected;
};

const FeatureCase kFeatures[] = {
    {"trim", R"J({% if true %}
  yes
{% endif %}
  {% if true %}x{% endif %}
end)J",
     R"J(  yes
xend)J"},
    {"minus", R"J(a  {{- ' b ' -}}  c
{#- comment -#}
 d)J",
     R"J(a b cd)J"},
    {"plus", R"J(  {%+ if true %}x{% endif %}|)J", R"J(  x|)J"},
    {"loop",
     R"J({% for x in ['a','b','c'] %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.previtem }}{{ loop.nextitem }}{{ loop.cycle('o','e') }};{% endfor %})J",
     R"J(103TrueFalse3bo;212FalseFalse3ace;321FalseTrue3bo;)J"},
    {"loop_filter_else",
     R"J({% for x in [1,2,3,4] if x is even %}{{ x }}{% else %}none{% endfor %}|{% for x in [] %}{{ x }}{% else %}empty{% endfor %})J",
     R"J(24|empty)J"},
    {"break_continue",
     R"J({% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %})J",
     R"J(0134)J"},
    {"namespace",
     R"J({% set ns = namespace(n=0, s='') %}{% for x in [3,4] %}{% set ns.n = ns.n + x %}{% set y = x %}{% endfor %}{{ ns.n }}|{{ y is defined }})J",
     R"J(7|False)J"},
    {"scope",
     R"J({% set x = 1 %}{% for i in [1] %}{% set x = 2 %}{{ x }}{% endfor %}{{ x }}{% if true %}{% set x = 3 %}{% endif %}{{ x }})J",
     R"J(213)J"},
    {"macro",
     R"J({% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('Ann') }} {{ greet('Bo', punct='?') }} {{ greet(punct='.', name='Cy') }})J",
     R"J(Hi Ann! Hi Bo? Hi Cy.)J"},
    {"filters",
     R"J({{ '  pad  ' | trim }}|{{ [3,1,2] | sort | join(',') }}|{{ 'abc' | upper }}|{{ none | default('d') }}|{{ undefined_var | default('u') }}|{{ '' | default('e', true) }}|{{ [1,2,3] | length }}|{{ 'héllo' | length }}|{{ [1,2,2,3] | unique | list }}|{{ ['a','b'] | first }}{{ ['a','b'] | last }}|{{ -3 | abs }}|{{ 3.7 | int }}|{{ '12' | int + 1 }}|{{ 2.5 | round }}|{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }})J",
     R"J(pad|1,2,3|ABC|None|u|e|3|5|[1, 2, 3]|ab|3|3|13|2.0|3 -4 2 3.5 1024)J"},
    {"select",
     R"J({% set ms = [{'role':'system','c':1},{'role':'user','c':2},{'role':'user','c':3}] %}{{ ms | selectattr('role', 'equalto', 'user') | map(attribute='c') | list }}|{{ ms | rejectattr('role', 'equalto', 'user') | list | length }}|{{ [1,2,3,4] | select('odd') | list }}|{{ ['a','B'] | map('upper') | join }})J",
     R"J([2, 3]|1|[1, 3]|AB)J"},
    {"tojson",
     R"J({{ {'a': 1, 'b': [true, none, 1.5, 'x"y'], 'c': {}} | tojson }}|{{ {'k': ['v', 2]} | tojson(indent=2) }}|{{ 'é' | tojson }}|{{ {'z': 1, 'a': 2} | tojson(sort_keys=true) }})J",
     R"J({"a": 1, "b": [true, null, 1.5, "x\"y"], "c": {}}|{
  "k": [
    "v",
    2
  ]
}|"é"|{"a": 2, "z": 1})J"},
    {"repr",
     R"J({{ [1, 'a', none, true, 2.0] }}|{{ {'a': 'it\'s'} }}|{{ (1, 2) }}|{{ 1.0 }} {{ 0.1 }} {{ 1e20 }} {{ 3 }})J",
     R"J([1, 'a', None, True, 2.0]|{'a': "it's"}|(1, 2)|1.0 0.1 1e+20 3)J"},
    {"strings",
     R"J({{ 'a,b,,c'.split(',') }}|{{ '  a  b '.split() }}|{{ 'Hello'.startswith('He') }}{{ 'Hello'.endswith(('x','lo')) }}|{{ 'x-y'.replace('-', '+') }}|{{ 'abc'[::-1] }}{{ 'abcdef'[1:4] }}{{ 'abc'[-1] }}|{{ 'a b'.title() }}|{{ '{}-{}'.format(1, 'z') }}|{{ 'ab' ~ 1 ~ none }}|{{ 'a' in 'cat' }}{{ 'x' not in ['x'] }})J",
     R"J(['a', 'b', '', 'c']|['a', 'b']|TrueTrue|x+y|cbabcdc|A B|1-z|ab1None|TrueFalse)J"},
    {"lists",
     R"J({{ [1,2,3][1:] }}{{ [1,2,3][::-1] }}{{ [1,2,3][-1] }}{{ [1,2] + [3] }}|{{ (['a'] * 3) | join }}|{{ [1,2,3] | sum }}|{{ [4,1,9] | max }}{{ [4,1,9] | min }}|{{ {'b':1,'a':2} | dictsort }}|{{ {'x':1}.items() | list }}|{{ {'x':1}.get('y', 5) }})J",
     R"J([2, 3][3, 2, 1]3[1, 2, 3]|aaa|6|91|[('a', 2), ('b', 1)]|[('x', 1)]|5)J"},
    {"tests",
     R"J({{ 1 is number }}{{ 'a' is string }}{{ {} is mapping }}{{ [] is iterable }}{{ none is none }}{{ x is undefined }}{{ 4 is divisibleby 2 }}{{ 3 is odd }}{{ 'ab' is lower }}{{ true is true }}{{ 1 is sameas 1 }}{{ 2 is gt 1 }}{{ 'a' is in ['a'] }})J",
     R"J(TrueTrueTrueTrueTrueTrueTrueTrueTrueTrueTrueTrueTrue)J"},
    {"conditional", R"J({{ 'y' if 1 > 2 else 'n' }}|{{ 'only' if false }}|{{ 1 and 2 }}{{ 0 or 'z' }}{{ not none }})J",
     R"J(n||2zTrue)J"},
    {"set_block", R"J({% set body %}inner {{ 1 + 1 }}{% endset %}[{{ body }}])J", R"J([inner 2])J"},
    {"filter_block", R"J({% filter upper %}shout {{ 'it' }}{% endfilter %})J", R"J(SHOUT IT)J"},
    {"raw", R"J({% raw %}{{ not rendered }}{% endraw %})J", R"J({{ not rendered }})J"},
    {"unpack",
     R"J({% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}{% set a, b = 1, 2 %}{{ a + b }})J",
     R"J(a=1;b=2;3)J"},
    {"strftime", R"J({{ strftime_now('%d %b %Y') }})J", R"J(01 Jan 2026)J"},
    {"indent", R"J({{ 'a\nb\n\nc' | indent(2) }}|{{ 'a\nb' | indent(2, true) }})J",
     R"J(a
  b

  c|  a
  b)J"},
};

TEST(ChatTemplateTest, Features) {
    for (const FeatureCase& c : kFeatures) {
        auto t = ChatTemplate::parse(c.source, test_options());
        ASSERT_TRUE(t.ok()) << c.name << ": " << t.error().message();
        auto r = t->render(json{{"bos_token", "<s>"}});
        ASSERT_TRUE(r.ok()) << c.name << ": " << r.error().message();
        EXPECT_EQ(*r, c.expected) << c.name;
    }
}

Result<std::string> render(const std::string& source, const json& ctx = json::object(),
                           ChatTemplateOptions opt = test_options()) {
    LOOM_TRY(ChatTemplate t, ChatTemplate::parse(source, opt));
    return t.render(ctx);
}

// Gemma 3's template with the default model's vocabulary: render, then tokenize with parse_special.
TEST(ChatTemplateTest, GemmaPromptTokenizes) {
    auto path = default_model_path();
    if (!path || !std::filesystem::exists(*path)) GTEST_SKIP() << "default model absent: run scripts/setup.sh";
    auto f = formats::GgufFile::open(*path);
    ASSERT_TRUE(f.ok());
    auto vocab = Vocab::load(*f);
    ASSERT_TRUE(vocab.ok());
    auto t = ChatTemplate::parse(read_file(data_dir() + "/templates/google-gemma-3-it.jinja"), test_options());
    ASSERT_TRUE(t.ok()) << t.error().message();
    auto prompt = t->render(chat_context(*vocab, json::array({{{"role", "user"}, {"content", "Hi"}}}), true));
    ASSERT_TRUE(prompt.ok()) << prompt.error().message();
    EXPECT_EQ(*prompt, "<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n");
    const Tokenizer tok(*vocab);
    auto ids = tok.encode(*prompt, false, true);
    ASSERT_TRUE(ids.ok());
    // <bos> <start_of_turn> user \n Hi <end_of_turn> \n <start_of_turn> model \n
    EXPECT_EQ(*ids, (std::vector<int32_t>{2, 105, 2364, 107, 10979, 106, 107, 105, 4368, 107}));
}

// Gemma 4's real GGUF (llama.cpp's models/ggml-vocab-gemma-4.gguf, from scripts/setup.sh): the template it
// carries, rendered and tokenized; the ids are llama.cpp's (llama_tokenize with parse_special) for that text.
TEST(ChatTemplateTest, Gemma4GgufPromptTokenizes) {
    auto dir = models_dir();
    const std::string path = dir ? *dir + "/vocab/gemma4.gguf" : std::string();
    if (path.empty() || !std::filesystem::exists(path)) GTEST_SKIP() << "no " << path << ": run scripts/setup.sh";
    auto f = formats::GgufFile::open(path);
    ASSERT_TRUE(f.ok()) << f.error().message();
    auto vocab = Vocab::load(*f);
    ASSERT_TRUE(vocab.ok()) << vocab.error().message();
    auto src = chat_template_source(*f);
    ASSERT_TRUE(src.ok()) << src.error().message();
    EXPECT_EQ(*src, read_file(data_dir() + "/templates/ggml-vocab-gemma-4.jinja"));
    auto t = ChatTemplate::parse(*src, test_options());
    ASSERT_TRUE(t.ok()) << t.error().message();
    auto prompt = t->render(chat_context(*vocab, json::array({{{"role", "user"}, {"content", "Hi"}}}), true));
    ASSERT_TRUE(prompt.ok()) << prompt.error().message();
    EXPECT_EQ(*prompt, "<bos><|turn>user\nHi<turn|>\n<|turn>model\n<|channel>thought\n<channel|>");
    auto ids = Tokenizer(*vocab).encode(*prompt, false, true);
    ASSERT_TRUE(ids.ok());
    // <bos> <|turn> user \n Hi <turn|> \n <|turn> model \n <|channel> thought \n <channel|>
    EXPECT_EQ(*ids, (std::vector<int32_t>{2, 105, 2364, 107, 10979, 106, 107, 105, 4368, 107, 100, 45518, 107, 101}));
}

TEST(ChatTemplateTest, Errors) {
    auto r = render("{{ raise_exception('roles must alternate') }}");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("raise_exception: roles must alternate"), std::string::npos)
        << r.error().message();
    r = render("line one\n{% if %}");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("chat template:2: expected an expression"), std::string::npos)
        << r.error().message();
    r = render("{% for x in y %}");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("expected 'else', 'endfor'"), std::string::npos) << r.error().message();
    r = render("{{ x | nosuchfilter }}");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("unknown filter 'nosuchfilter'"), std::string::npos) << r.error().message();
    r = render("{{ messages.append(1) }}", json{{"messages", json::array()}});
    ASSERT_FALSE(r.ok());  // the sandbox keeps values immutable
    EXPECT_NE(r.error().message().find("immutable"), std::string::npos) << r.error().message();
    r = render("{{ a.b.c }}");
    ASSERT_FALSE(r.ok());  // an attribute of an undefined value, as jinja2's UndefinedError
    r = render("{{ 1 + 'a' }}");
    ASSERT_FALSE(r.ok());
}

TEST(ChatTemplateTest, NothingButTheContextIsReachable) {
    // Python's dunder escape hatches are plain missing attributes here: they render as nothing.
    auto r = render("{{ ''.__class__ }}{{ range.__globals__ }}{{ namespace.__init__ }}[{{ cycler }}{{ lipsum }}]");
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(*r, "[]");
}

// Hostile templates end with an error, quickly, whatever they try.
TEST(ChatTemplateTest, HostileTemplatesHitABudget) {
    const char* hostile[] = {
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",  // steps
        "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",                            // recursion
        "{{ 'a' * 1000000000 }}",                                                            // one huge string
        "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        "{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}{% endfor %}",
        "{% for i in range(1000000000) %}x{% endfor %}",            // a huge range
        "{% for i in range(60000) %}{{ 'x' * 1000 }}{% endfor %}",  // output
    };
    for (const char* src : hostile) {
        const auto t0 = std::chrono::steady_clock::now();
        auto r = render(src);
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        EXPECT_FALSE(r.ok()) << src;
        EXPECT_LT(s, 3.0) << src;
    }
    // Deep nesting is refused by the parser.
    std::string deep;
    for (int i = 0; i < 1000; ++i) deep += "{% if true %}";
    auto r = render(deep);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("nested deeper"), std::string::npos) << r.error().message();
    std::string parens(5000, '(');
    r = render("{{ " + parens + " }}");
    EXPECT_FALSE(r.ok());
    // A tight time budget stops a long (legitimate-looking) loop.
    ChatTemplateOptions quick = test_options();
    quick.limits.max_seconds = 0.05;
    quick.limits.max_steps = UINT64_MAX;
    r = render("{% for i in range(3000) %}{% for j in range(3000) %}{% endfor %}{% endfor %}", json::object(), quick);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("time budget"), std::string::npos) << r.error().message();
}

}  // namespace
}  // namespace loom::tokenizer
