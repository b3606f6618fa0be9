// `loom inspect`: the JSON report lists every key and tensor of a writer-made file with the right totals,
// long values are summarised unless --all, a bad file gives one line on stderr and a non-zero exit, and
// the default model (when set-up installed it) is listed whole.
#include <nlohmann/json.hpp>
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>

#include "cli/inspect.h"
#include "core/default_model.h"
#include "formats/gguf_reader.h"
#include "formats/gguf_writer.h"
#include "unit/test_env.h"

namespace loom::cli {
namespace {

using formats::GgufWriter;
using nlohmann::json;

// A file name unique to this test and process (ctest runs tests in parallel processes).
std::string temp_path(const std::string& stem) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    return (std::filesystem::temp_directory_path() /
            fmt::format("loom_inspect_{}_{}_{}.gguf", info->name(), getpid(), stem))
        .string();
}

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<uint8_t> v(n);
    for (auto& b : v) b = uint8_t(rng());
    return v;
}

std::vector<std::string> many_tokens(int n) {
    std::vector<std::string> v;
    v.reserve(size_t(n));
    for (int i = 0; i < n; ++i) v.push_back(fmt::format("tok{}", i));
    return v;
}

GgufWriter small_model() {
    GgufWriter w;
    w.set("general.architecture", std::string("testarch"));
    w.set("testarch.block_count", uint32_t(2));
    w.set("testarch.rope.freq_base", 10000.f);
    w.set("testarch.eps", 1e-6f);
    w.set("tokenizer.ggml.tokens", many_tokens(20));
    w.set("tokenizer.ggml.scores", std::vector<float>{0.5f, -1.f, 2.f});
    w.set("tokenizer.chat_template", std::string(300, 'x'));
    w.set("t.bad_utf8", std::string("ok\xff\xfe"));
    w.add_tensor("token_embd.weight", DType::q8_0, {10, 64}, random_bytes(10 * 2 * 34, 1));
    w.add_tensor("blk.0.attn_norm.weight", DType::f32, {64}, random_bytes(64 * 4, 2));
    w.add_tensor("blk.0.ffn_up.weight", DType::q4_k, {3, 512}, random_bytes(3 * 2 * 144, 3));
    w.add_tensor("blk.1.odd", DType::f16, {2, 3, 5, 7}, random_bytes(2 * 3 * 5 * 7 * 2, 4));
    w.add_tensor("blk.1.extra", DType::f32, {8}, random_bytes(8 * 4, 5));
    return w;
}

// Writes the small model and runs inspect on it; the file is removed afterwards.
struct Inspected {
    int status = -1;
    std::string out, err;
};
Inspected inspect_small(bool as_json, bool all) {
    const std::string path = temp_path("small");
    EXPECT_TRUE(small_model().write(path).ok());
    Inspected r;
    r.status = run_inspect({path, as_json, all}, r.out, r.err);
    std::filesystem::remove(path);
    return r;
}

const json& meta(const json& report, const std::string& key) {
    for (const json& m : report["metadata"])
        if (m["key"] == key) return m;
    static const json kNone;
    ADD_FAILURE() << "no key " << key;
    return kNone;
}

TEST(Inspect, JsonListsEveryKeyAndTensorWithTotals) {
    const Inspected r = inspect_small(true, false);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "");
    const json j = json::parse(r.out);
    const GgufWriter w = small_model();

    ASSERT_EQ(j["metadata"].size(), w.metadata().size());
    for (size_t i = 0; i < w.metadata().size(); ++i) EXPECT_EQ(j["metadata"][i]["key"], w.metadata()[i].first);
    EXPECT_EQ(meta(j, "testarch.block_count")["value"], 2);
    EXPECT_EQ(meta(j, "testarch.eps")["value"], 1e-6);  // printed as written, not as 9.99999997e-07
    EXPECT_EQ(j["version"], 3);
    EXPECT_EQ(j["alignment"], 32);

    const std::vector<std::string> names = {"token_embd.weight", "blk.0.attn_norm.weight", "blk.0.ffn_up.weight",
                                            "blk.1.odd", "blk.1.extra"};
    ASSERT_EQ(j["tensors"].size(), names.size());
    for (size_t i = 0; i < names.size(); ++i) EXPECT_EQ(j["tensors"][i]["name"], names[i]);
    EXPECT_EQ(j["tensors"][3]["shape"], json({2, 3, 5, 7}));
    EXPECT_EQ(j["tensors"][3]["type"], "f16");
    EXPECT_EQ(j["tensors"][0]["bytes"], 10 * 2 * 34);

    const json& t = j["totals"];
    EXPECT_EQ(t["tensors"], 5);
    EXPECT_EQ(t["params"], 640 + 64 + 1536 + 210 + 8);
    EXPECT_EQ(t["bytes"], 680 + 256 + 864 + 420 + 32);
    EXPECT_DOUBLE_EQ(t["bits_per_weight"].get<double>(),
                     (680 + 256 + 864 + 420 + 32) * 8.0 / (640 + 64 + 1536 + 210 + 8));
    EXPECT_EQ(t["per_type"]["f32"], json({{"tensors", 2}, {"params", 72}, {"bytes", 288}, {"bits_per_weight", 32.0}}));
    EXPECT_EQ(t["per_type"]["q8_0"]["bits_per_weight"], 8.5);
    EXPECT_EQ(t["per_type"]["q4_k"]["bits_per_weight"], 4.5);
    EXPECT_EQ(t["per_type"].size(), 4u);
}

TEST(Inspect, LongArraysAndStringsAreSummarisedUnlessAll) {
    const json cut = json::parse(inspect_small(true, false).out);
    const json& tokens = meta(cut, "tokenizer.ggml.tokens");
    EXPECT_EQ(tokens["count"], 20);
    EXPECT_EQ(tokens["elem_type"], "string");
    EXPECT_TRUE(tokens["truncated"]);
    EXPECT_LT(tokens["value"].size(), 20u);
    EXPECT_EQ(tokens["value"][0], "tok0");
    EXPECT_FALSE(meta(cut, "tokenizer.ggml.scores")["truncated"]);
    EXPECT_TRUE(meta(cut, "tokenizer.chat_template")["truncated"]);
    EXPECT_EQ(meta(cut, "tokenizer.chat_template")["length"], 300);

    const json whole = json::parse(inspect_small(true, true).out);
    EXPECT_EQ(meta(whole, "tokenizer.ggml.tokens")["value"], json(many_tokens(20)));
    EXPECT_EQ(meta(whole, "tokenizer.chat_template")["value"], std::string(300, 'x'));
    EXPECT_FALSE(meta(whole, "tokenizer.chat_template")["truncated"]);

    const std::string text = inspect_small(false, false).out;
    EXPECT_NE(text.find("[array of 20 string] \"tok0\", \"tok1\""), std::string::npos) << text;
    EXPECT_NE(text.find("(300 bytes; --all shows it whole)"), std::string::npos) << text;
}

TEST(Inspect, InvalidUtf8ValuesAreReplacedNotThrown) {
    const Inspected r = inspect_small(true, false);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(meta(json::parse(r.out), "t.bad_utf8")["value"], "ok\xef\xbf\xbd\xef\xbf\xbd");  // U+FFFD twice
    EXPECT_EQ(inspect_small(false, false).status, 0);
}

TEST(Inspect, TextHasHeaderTableAndTotals) {
    const Inspected r = inspect_small(false, false);
    ASSERT_EQ(r.status, 0) << r.err;
    for (const char* want : {"version      3", "metadata: 8 keys", "tensors: 5", "blk.1.odd", "[2, 3, 5, 7]",
                             "parameters       2458", "bits per weight", "q4_k"})
        EXPECT_NE(r.out.find(want), std::string::npos) << want << "\n" << r.out;
}

// Exactly one line, "loom: <message>", naming the file.
void expect_one_line_error(const std::string& err, const std::string& path) {
    ASSERT_GE(err.size(), 7u);
    EXPECT_EQ(err.rfind("loom: ", 0), 0u) << err;
    EXPECT_EQ(err.find('\n'), err.size() - 1) << err;
    EXPECT_NE(err.find(path), std::string::npos) << err;
}

TEST(Inspect, InvalidFileGivesOneLineAndFailure) {
    const std::string path = temp_path("bad");
    std::vector<uint8_t> bytes = *small_model().to_bytes();
    bytes.resize(bytes.size() - 100);  // the last tensor now ends past the end of the file
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    std::string out, err;
    EXPECT_EQ(run_inspect({path, false, false}, out, err), 1);
    EXPECT_EQ(out, "");
    expect_one_line_error(err, path);
    std::filesystem::remove(path);
}

TEST(Inspect, MissingFileGivesOneLineAndFailure) {
    const std::string path = temp_path("missing");
    std::string out, err;
    EXPECT_EQ(run_inspect({path, true, false}, out, err), 1);
    expect_one_line_error(err, path);
}

TEST(Inspect, BinaryExitStatusAndStderr) {
    const std::string good = temp_path("good"), bad = temp_path("garbage");
    ASSERT_TRUE(small_model().write(good).ok());
    std::ofstream(bad) << "not a gguf file at all";

    const auto [ok_status, ok_out] = test::shell(fmt::format("'{}' inspect --json '{}' 2>&1", LOOM_BINARY, good));
    EXPECT_EQ(ok_status, 0) << ok_out;
    EXPECT_EQ(json::parse(ok_out)["tensors"].size(), 5u);

    // stderr only: stdout goes to /dev/null
    const auto [bad_status, bad_err] = test::shell(fmt::format("'{}' inspect '{}' 2>&1 >/dev/null", LOOM_BINARY, bad));
    EXPECT_NE(bad_status, 0);
    expect_one_line_error(bad_err, bad);
    std::filesystem::remove(good);
    std::filesystem::remove(bad);
}

TEST(Inspect, DefaultModelListsEveryTensorAndKey) {
    const Result<std::string> path = default_model_path();
    if (!path.ok()) GTEST_SKIP() << path.error().message();
    const auto f = formats::GgufFile::open(*path);
    ASSERT_TRUE(f.ok()) << f.error().message();

    std::string out, err;
    ASSERT_EQ(run_inspect({"", true, false}, out, err), 0) << err;  // no FILE: the default model
    const json j = json::parse(out);
    ASSERT_EQ(j["tensors"].size(), f->tensors().size());
    for (size_t i = 0; i < f->tensors().size(); ++i) EXPECT_EQ(j["tensors"][i]["name"], f->tensors()[i].name);
    ASSERT_EQ(j["metadata"].size(), f->metadata().size());
    for (size_t i = 0; i < f->metadata().size(); ++i) EXPECT_EQ(j["metadata"][i]["key"], f->metadata()[i].key);
    EXPECT_EQ(j["totals"]["tensors"], f->tensors().size());
    EXPECT_EQ(j["file_size"], std::filesystem::file_size(*path));

    ASSERT_EQ(run_inspect({"", false, false}, out, err), 0) << err;
    for (const auto& t : f->tensors()) EXPECT_NE(out.find(std::string(t.name)), std::string::npos) << t.name;
}

}  // namespace
}  // namespace loom::cli
