// Chat templates: the real templates of Llama 3.x, Qwen 2.5/3/3.5, DeepSeek, Gemma and others, rendered
// over conversations (system, multi-turn, tools and tool calls, empty content, thinking on/off), byte for
// byte as Python jinja2 renders them with Hugging Face's settings (tests/data/chat_templates/PROVENANCE.md);
// templates that raise must raise. Then the Jinja features one by one, and hostile templates that must
// stop at a budget.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "tokenizer/chat_template.h"

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
    std::ifstream cases(dir + "/cases.jsonl");
    ASSERT_TRUE(cases) << "no cases in " << dir;
    std::map<std::string, Result<ChatTemplate>> templates;
    size_t n = 0, mismatches = 0;
    std::map<std::string, int> bad_templates;
    for (std::string line; std::getline(cases, line);) {
        const json c = json::parse(line);
        const std::string name = c["template"];
        auto it = templates.find(name);
        if (it == templates.end())
            it = templates.emplace(name, ChatTemplate::parse(read_file(dir + "/templates/" + name), test_options())).first;
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

}  // namespace
}  // namespace loom::tokenizer
