#include "unit/tokenizer/vocab_keys.h"

#include <gtest/gtest.h>

#include "tokenizer/tokenizer.h"
#include "unit/tokenizer/corpus.h"

namespace loom::tokenizer::vocab_check {

using formats::GgufValue;

Keys tokenizer_keys(const formats::GgufWriter& w) {
    Keys k;
    for (const auto& [key, v] : w.metadata())
        if (key.rfind("tokenizer.", 0) == 0) k[key] = v;
    return k;
}

Keys tokenizer_keys(const formats::GgufFile& f) {
    Keys k;
    for (const formats::MetaEntry& e : f.metadata())
        if (e.key.rfind("tokenizer.", 0) == 0) k[std::string(e.key)] = e.to_owned();
    return k;
}

void expect_same_keys(const Keys& got, const Keys& want) {
    for (const auto& [key, v] : got) EXPECT_TRUE(want.count(key)) << key << ": written, but not by the converter";
    for (const auto& kv : want) {
        const std::string& key = kv.first;  // (not a structured binding: clang 14 cannot capture those)
        const GgufValue& w = kv.second;
        auto it = got.find(key);
        if (it == got.end()) {
            ADD_FAILURE() << key << ": missing";
            continue;
        }
        const GgufValue& g = it->second;
        if (g.index() != w.index()) {
            ADD_FAILURE() << key << ": another type";
            continue;
        }
        if (g == w) continue;
        std::visit(
            [&](const auto& a) {
                using T = std::decay_t<decltype(a)>;
                const T& b = std::get<T>(w);
                if constexpr (requires { a.size(); } && !std::is_same_v<T, std::string>) {
                    if (a.size() != b.size()) {
                        ADD_FAILURE() << key << ": " << a.size() << " elements, expected " << b.size();
                        return;
                    }
                    for (size_t i = 0; i < a.size(); ++i)
                        if (!(a[i] == b[i])) {
                            ADD_FAILURE() << key << "[" << i << "]: " << testing::PrintToString(a[i]) << ", expected "
                                          << testing::PrintToString(b[i]);
                            return;
                        }
                } else {
                    ADD_FAILURE() << key << ": " << testing::PrintToString(a) << ", expected "
                                  << testing::PrintToString(b);
                }
            },
            g);
    }
}

Result<Vocab> vocab_of(const formats::GgufWriter& w) {
    LOOM_TRY(std::vector<uint8_t> bytes, w.to_bytes());
    LOOM_TRY(formats::GgufFile f, formats::GgufFile::parse(std::move(bytes), "written"));
    return Vocab::load(f);
}

void expect_same_ids(const Vocab& a, const Vocab& b, size_t n) {
    const Tokenizer ta(a), tb(b);
    const auto& texts = corpus();
    ASSERT_FALSE(texts.empty());
    size_t mismatches = 0, compared = 0;
    for (size_t i = 0; i < texts.size() && i < n; ++i) {
        auto x = ta.encode(texts[i], true, true), y = tb.encode(texts[i], true, true);
        compared += y.ok();
        const bool same = x.ok() == y.ok() && (!x.ok() || *x == *y);
        if (!same && ++mismatches <= 5) ADD_FAILURE() << "text " << i << ": other ids";
    }
    EXPECT_EQ(mismatches, 0u);
    EXPECT_GE(compared, 500u) << "too few texts tokenized to compare";
}

}  // namespace loom::tokenizer::vocab_check
