// `loom tokenize`: ids and pieces of the default model's tokenizer, as llama.cpp gives them, in JSON and text;
// a missing model is one error line and status 1.
#include <nlohmann/json.hpp>
#include <gtest/gtest.h>

#include <filesystem>

#include "cli/tokenize.h"
#include "core/default_model.h"

namespace loom::cli {
namespace {

bool have_default_model() {
    auto p = default_model_path();
    return p.ok() && std::filesystem::exists(*p);
}

TEST(TokenizeCommandTest, DefaultModelJson) {
    if (!have_default_model()) GTEST_SKIP() << "default model absent: run scripts/setup.sh";
    TokenizeOptions o;
    o.prompt = "Hello world";
    o.json = true;
    std::string out, err;
    ASSERT_EQ(run_tokenize(o, out, err), 0) << err;
    const auto j = nlohmann::json::parse(out);
    EXPECT_EQ(j["tokens"], nlohmann::json({2, 9259, 1902}));  // llama.cpp: <bos> Hello ▁world
    EXPECT_EQ(j["pieces"], nlohmann::json({"<bos>", "Hello", " world"}));

    o.json = false;
    o.parse_special = true;
    o.prompt = "<start_of_turn>user\n";
    ASSERT_EQ(run_tokenize(o, out, err), 0) << err;
    EXPECT_NE(out.find("    105 '<start_of_turn>'"), std::string::npos) << out;
    EXPECT_NE(out.find("    107 '\\n'"), std::string::npos) << out;
    EXPECT_NE(out.find("4 tokens"), std::string::npos) << out;
}

TEST(TokenizeCommandTest, MissingModelIsOneErrorLine) {
    TokenizeOptions o;
    o.model = "/nonexistent/model.gguf";
    o.prompt = "x";
    std::string out, err;
    EXPECT_EQ(run_tokenize(o, out, err), 1);
    EXPECT_EQ(err.rfind("loom: ", 0), 0u) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
}

}  // namespace
}  // namespace loom::cli
