// StopMatcher: hand-checked streams (stops across pieces, false starts, overlapping and nested stop strings,
// a stop at the very start, UTF-8), and a sweep that cuts random texts into random pieces and compares with a
// whole-text rule written here: the output must not depend on the cut.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "runtime/stop_strings.h"

namespace loom::runtime {
namespace {

// Feeds `pieces` and returns what was emitted after each, plus the flush.
struct Emitted {
    std::vector<std::string> emitted;
    std::string all;
    bool stopped = false;
    int32_t stop_index = -1;
};

Emitted feed_all(StopMatcher& m, const std::vector<std::string>& pieces) {
    Emitted r;
    for (const std::string& p : pieces) {
        StopResult s = m.feed(p);
        r.emitted.push_back(s.text);
        r.all += s.text;
        r.stopped = s.stopped;
        r.stop_index = s.stop_index;
    }
    StopResult f = m.flush();
    r.all += f.text;
    r.emitted.push_back(f.text);
    EXPECT_EQ(f.stopped, r.stopped);
    return r;
}

TEST(StopMatcher, NoStopsEmitsEverythingAtOnce) {
    StopMatcher m;
    const Emitted r = feed_all(m, {"hello", " ", "world"});
    EXPECT_EQ(r.emitted, (std::vector<std::string>{"hello", " ", "world", ""}));
    EXPECT_FALSE(r.stopped);
    StopMatcher empty_strings({"", ""});  // ignored
    EXPECT_EQ(feed_all(empty_strings, {"a", "b"}).all, "ab");
}

TEST(StopMatcher, StopInsideOnePiece) {
    StopMatcher m({"###", "STOP"});
    const Emitted r = feed_all(m, {"hello STOP world"});
    EXPECT_EQ(r.all, "hello ");
    EXPECT_TRUE(r.stopped);
    EXPECT_EQ(r.stop_index, 1);
}

TEST(StopMatcher, StopAcrossPiecesIsHeldBack) {
    StopMatcher m({"STOP"});
    const Emitted r = feed_all(m, {"hel", "lo S", "TO", "P more", "ignored"});
    EXPECT_EQ(r.emitted, (std::vector<std::string>{"hel", "lo ", "", "", "", ""}));
    EXPECT_TRUE(r.stopped);
    EXPECT_EQ(r.stop_index, 0);
    EXPECT_TRUE(m.stopped());
}

TEST(StopMatcher, FalseStartIsReleased) {
    StopMatcher m({"STOP"});
    const Emitted r = feed_all(m, {"a S", "T", "AR", "T"});
    EXPECT_EQ(r.emitted, (std::vector<std::string>{"a ", "", "STAR", "T", ""}));
    EXPECT_FALSE(r.stopped);
}

TEST(StopMatcher, FlushReturnsTheHeldTail) {
    StopMatcher m({"STOP"});
    EXPECT_EQ(m.feed("the end ST").text, "the end ");
    const StopResult f = m.flush();
    EXPECT_EQ(f.text, "ST");
    EXPECT_FALSE(f.stopped);
}

TEST(StopMatcher, StopAtTheVeryStart) {
    StopMatcher m({"<|end|>"});
    const Emitted r = feed_all(m, {"<|", "end|>", "after"});
    EXPECT_EQ(r.all, "");
    EXPECT_TRUE(r.stopped);
    StopMatcher whole({"<|end|>"});
    EXPECT_EQ(feed_all(whole, {"<|end|>tail"}).all, "");
}

TEST(StopMatcher, SelfOverlappingStop) {
    // "abab" after "aba": the held "aba" cannot complete as it was ("abaa"), but its tail "a" can.
    StopMatcher m({"abab"});
    const Emitted r = feed_all(m, {"x", "a", "b", "a", "a", "b", "a", "b", "zz"});
    EXPECT_EQ(r.all, "xaba");
    EXPECT_TRUE(r.stopped);
    EXPECT_EQ(r.emitted[4], "aba");  // released once "abaa" rules it out
}

TEST(StopMatcher, FirstCompletedStopWins) {
    // "aba" completes one byte before "abab" would.
    StopMatcher m({"abab", "aba"});
    Emitted r = feed_all(m, {"ab", "ab"});
    EXPECT_EQ(r.all, "");
    EXPECT_EQ(r.stop_index, 1);
    // Completing at the same byte: the longer (earlier start) wins, so nothing of it is emitted.
    StopMatcher same({"b", "ab"});
    r = feed_all(same, {"xab"});
    EXPECT_EQ(r.all, "x");
    EXPECT_EQ(r.stop_index, 1);
    // A short stop inside a longer one that would complete later: the short one ends the text first,
    // whether the bytes come at once or one by one.
    for (const std::vector<std::string>& pieces :
         {std::vector<std::string>{"..abcd"}, std::vector<std::string>{".", ".", "a", "b", "c", "d"}}) {
        StopMatcher nested({"abcd", "c"});
        r = feed_all(nested, pieces);
        EXPECT_EQ(r.all, "..ab");
        EXPECT_EQ(r.stop_index, 1);
    }
}

TEST(StopMatcher, Utf8PartialCharacterOfAStopIsHeld) {
    StopMatcher m({"é"});  // C3 A9
    const Emitted r = feed_all(m, {"caf", "\xC3", "\xA9", " au lait"});
    EXPECT_EQ(r.emitted[0], "caf");
    EXPECT_EQ(r.emitted[1], "");  // could be the start of "é"
    EXPECT_EQ(r.all, "caf");
    EXPECT_TRUE(r.stopped);
    // A character that shares no prefix with the stop passes through whole.
    StopMatcher euro({"€"});  // E2 82 AC
    EXPECT_EQ(euro.feed("ä").text, "ä");
    EXPECT_EQ(euro.feed("\xE2\x82").text, "");
    EXPECT_EQ(euro.feed("\xAC").text, "");
    EXPECT_TRUE(euro.stopped());
}

TEST(StopMatcher, ResetStartsOver) {
    StopMatcher m({"END"});
    EXPECT_TRUE(m.feed("xEND").stopped);
    m.reset();
    EXPECT_FALSE(m.stopped());
    const StopResult r = m.feed("abc");
    EXPECT_EQ(r.text, "abc");
    EXPECT_FALSE(r.stopped);
}

// The whole-text rule: the first byte position where some stop ends; at that position the longest stop.
Emitted whole_text(const std::string& text, const std::vector<std::string>& stops) {
    Emitted r;
    for (size_t end = 1; end <= text.size() && !r.stopped; ++end) {
        size_t best_len = 0;
        for (size_t i = 0; i < stops.size(); ++i) {
            const std::string& s = stops[i];
            if (!s.empty() && s.size() <= end && text.compare(end - s.size(), s.size(), s) == 0 &&
                s.size() > best_len) {
                best_len = s.size();
                r.stopped = true;
                r.stop_index = int32_t(i);
                r.all = text.substr(0, end - s.size());
            }
        }
    }
    if (!r.stopped) r.all = text;
    return r;
}

TEST(StopMatcher, OutputDoesNotDependOnHowTextIsCut) {
    const std::vector<std::string> stops = {"abc", "bca", "cc", "abab", "", "cab"};
    std::mt19937 gen(11);
    std::uniform_int_distribution<int> letter(0, 3), cut(0, 4);
    for (int trial = 0; trial < 3000; ++trial) {
        std::string text;
        const int len = 1 + trial % 23;
        for (int i = 0; i < len; ++i) text += char('a' + letter(gen));  // 'd' breaks every stop
        const Emitted want = whole_text(text, stops);
        std::vector<std::string> pieces;
        for (size_t i = 0; i < text.size();) {
            const size_t n = std::min(text.size() - i, size_t(cut(gen)));  // empty pieces too
            pieces.push_back(text.substr(i, n));
            i += n;
        }
        StopMatcher m(stops);
        const Emitted got = feed_all(m, pieces);
        ASSERT_EQ(got.all, want.all) << "text " << text;
        ASSERT_EQ(got.stopped, want.stopped) << "text " << text;
        ASSERT_EQ(got.stop_index, want.stop_index) << "text " << text;
        // Nothing that could still become a stop is ever emitted early: every emitted prefix is a prefix
        // of the final text.
        std::string so_far;
        for (const std::string& e : got.emitted) {
            so_far += e;
            ASSERT_EQ(want.all.compare(0, so_far.size(), so_far), 0) << "text " << text;
        }
    }
}

}  // namespace
}  // namespace loom::runtime
