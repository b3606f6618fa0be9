// The tool-call reader: a small state machine over held text (content, between calls, inside a section of
// calls), and scanners for a JSON value's extent and for key:value arguments.
#include "server/tool_parser.h"

#include <nlohmann/json.hpp>

#include <random>

namespace loom::server {
namespace {

using OJson = nlohmann::ordered_json;
using Step = int;  // mirrors ToolCallParser::Step inside this file: 0 done, 1 more, 2 bad
constexpr Step kDone = 0, kMore = 1, kBad = 2;

constexpr size_t kMaxName = 256;  // a function name longer than this is not a call

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

size_t skip_space(std::string_view s, size_t i) {
    while (i < s.size() && is_space(s[i])) ++i;
    return i;
}

// Whether `s` at `i` starts with `lit`: done, more (s ends inside it) or bad.
Step expect(std::string_view s, size_t& i, std::string_view lit) {
    const std::string_view rest = s.substr(i);
    if (rest.size() >= lit.size()) {
        if (rest.substr(0, lit.size()) != lit) return kBad;
        i += lit.size();
        return kDone;
    }
    return lit.substr(0, rest.size()) == rest ? kMore : kBad;
}

// The end of the JSON object or array at `i` (after whitespace): strings and nesting tracked, nothing else
// checked (the JSON parser does that).
Step scan_json(std::string_view s, size_t& i) {
    i = skip_space(s, i);
    if (i >= s.size()) return kMore;
    if (s[i] != '{' && s[i] != '[') return kBad;
    int depth = 0;
    bool in_string = false;
    for (; i < s.size(); ++i) {
        const char c = s[i];
        if (in_string) {
            if (c == '\\') ++i;
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > 64) return kBad;
        } else if (c == '}' || c == ']') {
            if (--depth == 0) {
                ++i;
                return kDone;
            }
        }
    }
    return kMore;
}

bool parse_json(std::string_view text, OJson& out) {
    out = OJson::parse(text, nullptr, /*allow_exceptions=*/false);
    return !out.is_discarded();
}

std::string dump(const OJson& j) { return j.dump(-1, ' ', false, OJson::error_handler_t::replace); }

// Arguments as a JSON object's text: an object, or a string holding one (some models quote them).
bool arguments_text(const OJson& v, std::string& out) {
    if (v.is_object()) {
        out = dump(v);
        return true;
    }
    OJson inner;
    if (v.is_string() && parse_json(v.get<std::string>(), inner) && inner.is_object()) {
        out = dump(inner);
        return true;
    }
    return false;
}

// {"name": ..., <args_key>: {...}} → name and arguments; "arguments" and "parameters" are both read.
bool name_and_args(const OJson& obj, const char* args_key, std::string& name, std::string& args) {
    if (!obj.is_object()) return false;
    auto n = obj.find("name");
    if (n == obj.end() || !n->is_string() || n->get<std::string>().empty()) return false;
    name = n->get<std::string>();
    for (const char* key : {args_key, "arguments", "parameters"}) {
        if (!*key) continue;
        auto a = obj.find(key);
        if (a != obj.end()) return arguments_text(*a, args);
    }
    args = "{}";  // a function without parameters
    return true;
}

// key:value arguments, strings quoted by `quote` (e.g. <|"|>), keys bare or quoted: read into JSON.
class KvReader {
public:
    KvReader(std::string_view s, std::string_view quote) : s_(s), q_(quote) {}

    Step value(size_t& i, OJson& out, int depth) {
        if (depth > 32) return kBad;
        if (i >= s_.size()) return kMore;
        if (Step st = quoted(i, out); st != kBad) return st;
        if (s_[i] == '{') return object(i, out, depth);
        if (s_[i] == '[') return array(i, out, depth);
        size_t j = i;
        while (j < s_.size() && s_[j] != ',' && s_[j] != '}' && s_[j] != ']') ++j;
        if (j >= s_.size()) return kMore;
        if (!parse_json(s_.substr(i, j - i), out) || out.is_object() || out.is_array() || out.is_string())
            return kBad;  // true, false, null or a number
        i = j;
        return kDone;
    }

    Step object(size_t& i, OJson& out, int depth) {
        out = OJson::object();
        ++i;  // '{'
        for (bool first = true;; first = false) {
            if (i >= s_.size()) return kMore;
            if (s_[i] == '}') {
                ++i;
                return kDone;
            }
            if (!first) {
                if (s_[i] != ',') return kBad;
                if (++i >= s_.size()) return kMore;
            }
            OJson key;
            Step st = quoted(i, key);
            if (st == kMore) return st;
            if (st == kBad) {  // a bare key
                size_t j = i;
                while (j < s_.size() && s_[j] != ':' && j - i <= kMaxName) ++j;
                if (j >= s_.size()) return kMore;
                if (s_[j] != ':' || j == i) return kBad;
                key = std::string(s_.substr(i, j - i));
                i = j;
            }
            if (i >= s_.size()) return kMore;
            if (s_[i++] != ':') return kBad;
            OJson v;
            if (Step vs = value(i, v, depth + 1); vs != kDone) return vs;
            out[key.get<std::string>()] = std::move(v);
        }
    }

private:
    Step array(size_t& i, OJson& out, int depth) {
        out = OJson::array();
        ++i;  // '['
        for (bool first = true;; first = false) {
            if (i >= s_.size()) return kMore;
            if (s_[i] == ']') {
                ++i;
                return kDone;
            }
            if (!first) {
                if (s_[i] != ',') return kBad;
                ++i;
            }
            OJson v;
            if (Step st = value(i, v, depth + 1); st != kDone) return st;
            out.push_back(std::move(v));
        }
    }

    // A string between two quote tokens.
    Step quoted(size_t& i, OJson& out) {
        size_t j = i;
        if (Step st = expect(s_, j, q_); st != kDone) return st;
        const size_t end = s_.find(q_, j);
        if (end == std::string_view::npos) return kMore;
        out = std::string(s_.substr(j, end - j));
        i = end + q_.size();
        return kDone;
    }

    std::string_view s_, q_;
};

std::string random_id(int length) {
    static constexpr char kAlnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    thread_local std::mt19937_64 rng{std::random_device{}()};
    std::string out;
    for (int i = 0; i < length; ++i) out += kAlnum[rng() % (sizeof(kAlnum) - 1)];
    return out;
}

// The length of the longest tail of `s` that is a proper prefix of `marker`.
size_t partial_tail(std::string_view s, std::string_view marker) {
    if (marker.empty()) return 0;
    for (size_t n = std::min(s.size(), marker.size() - 1); n > 0; --n)
        if (s.substr(s.size() - n) == marker.substr(0, n)) return n;
    return 0;
}

// Whether `s` starts with `marker`, or is a beginning of it.
bool may_start(std::string_view s, std::string_view marker) {
    if (marker.empty()) return false;
    const size_t n = std::min(s.size(), marker.size());
    return s.substr(0, n) == marker.substr(0, n);
}

}  // namespace

ToolCall ToolCallParser::make_call(std::string name, std::string arguments) {
    return {f_.id_length > 0 ? random_id(f_.id_length) : "call_" + random_id(24), std::move(name),
            std::move(arguments)};
}

ToolCallParser::Step ToolCallParser::parse_call(std::string_view s, size_t& used, std::vector<ToolCall>& calls) {
    auto step = [](int st) { return st == kDone ? Step::done : st == kMore ? Step::more : Step::bad; };
    // The opening marker: call_open or alt_open, or none for a bare call at the start of the reply.
    size_t i = 0;
    int open = kBad;
    for (const char* marker : {f_.call_open, f_.alt_open}) {
        size_t k = 0;
        const int st = *marker ? expect(s, k, marker) : kBad;
        if (st == kDone) {
            i = k;
            open = kDone;
            break;
        }
        if (st == kMore) open = kMore;
    }
    if (open == kMore) return Step::more;
    if (open == kBad && !f_.bare_at_start) return Step::bad;
    std::string name, args;
    switch (f_.layout) {
        case CallLayout::json_object:
        case CallLayout::json_list: {
            const size_t from = skip_space(s, i);
            size_t end = from;
            if (int st = scan_json(s, end); st != kDone) return step(st);
            OJson v;
            if (!parse_json(s.substr(from, end - from), v)) return Step::bad;
            i = end;
            if (f_.layout == CallLayout::json_object) {
                if (!name_and_args(v, f_.args_key, name, args)) return Step::bad;
                const size_t close = skip_space(s, i);
                if (*f_.call_close) {
                    i = close;
                    if (int st = expect(s, i, f_.call_close); st != kDone) return step(st);
                }
                calls.push_back(make_call(std::move(name), std::move(args)));
            } else {
                if (!v.is_array() || v.empty()) return Step::bad;
                for (const OJson& item : v) {
                    if (!name_and_args(item, f_.args_key, name, args)) return Step::bad;
                    calls.push_back(make_call(std::move(name), std::move(args)));
                }
            }
            break;
        }
        case CallLayout::name_args:
        case CallLayout::name_kv: {
            const size_t at = s.find(f_.name_sep, i);
            if (at == std::string_view::npos) {
                // Still a name, unless it has grown too long or crossed a line (the separator's own start aside).
                std::string_view rest = s.substr(i);
                rest.remove_suffix(partial_tail(rest, f_.name_sep));
                const bool plausible = rest.size() <= kMaxName && rest.find('\n') == std::string_view::npos;
                return plausible ? Step::more : Step::bad;
            }
            name = std::string(s.substr(i, at - i));
            while (!name.empty() && is_space(name.back())) name.pop_back();
            if (name.empty() || name.size() > kMaxName || name.find('\n') != std::string::npos) return Step::bad;
            i = at + std::string_view(f_.name_sep).size();
            if (f_.layout == CallLayout::name_args) {
                const size_t from = skip_space(s, i);
                size_t end = from;
                if (int st = scan_json(s, end); st != kDone) return step(st);
                OJson v;
                if (!parse_json(s.substr(from, end - from), v) || !arguments_text(v, args)) return Step::bad;
                i = end;
            } else {
                KvReader kv(s, f_.string_quote);
                OJson v;
                --i;  // the object starts at the name separator's '{'
                if (int st = kv.object(i, v, 0); st != kDone) return step(st);
                args = dump(v);
            }
            if (int st = expect(s, i, f_.args_close); st != kDone) return step(st);
            if (int st = expect(s, i, f_.call_close); st != kDone) return step(st);
            calls.push_back(make_call(std::move(name), std::move(args)));
            break;
        }
        case CallLayout::none: return Step::bad;
    }
    used = i;
    return Step::done;
}

ToolCallParser::Out ToolCallParser::feed(std::string_view text) {
    held_ += text;
    return run(false);
}

ToolCallParser::Out ToolCallParser::flush() { return run(true); }

ToolCallParser::Out ToolCallParser::run(bool final) {
    Out out;
    auto emit = [&](size_t n) {  // the first n held bytes are content
        for (size_t k = 0; k < n && at_start_; ++k) at_start_ = is_space(held_[k]);
        out.content.append(held_, 0, n);
        held_.erase(0, n);
    };
    const std::string_view opener = *f_.section_open ? f_.section_open : f_.call_open;
    for (;;) {
        if (state_ == State::content) {
            // The earliest place a call (or a section of calls) may open.
            size_t at = std::string::npos;
            if (!opener.empty()) at = held_.find(opener);
            if (*f_.alt_open) at = std::min(at, held_.find(f_.alt_open));
            if (f_.bare_at_start && at_start_) {
                const size_t first = skip_space(held_, 0);
                if (first == held_.size() && !final) return out;  // only whitespace yet: undecided
                if (first < held_.size() && held_[first] == '{') at = std::min(at, first);
            }
            if (at == std::string::npos) {
                size_t keep = final ? 0 : std::max(partial_tail(held_, opener), partial_tail(held_, f_.alt_open));
                emit(held_.size() - keep);
                return out;
            }
            emit(at);
            if (*f_.section_open) {
                size_t i = 0;
                const int st = expect(held_, i, f_.section_open);
                if (st != kDone) return out;  // cannot be: found above
                held_.erase(0, i);
                state_ = State::in_section;
                section_text_ = f_.section_open;  // content again if no call follows
                at_start_ = false;
                continue;
            }
        } else {
            // Between calls: whitespace and the separator are skipped; a section may close.
            size_t i = skip_space(held_, 0);
            if (*f_.call_sep && expect(held_, i, f_.call_sep) == kDone) i = skip_space(held_, i);
            const std::string_view rest = std::string_view(held_).substr(i);
            if (state_ == State::in_section) {
                size_t k = i;
                if (int st = expect(held_, k, f_.section_close); st == kDone) {
                    held_.erase(0, k);
                    state_ = State::content;
                    continue;
                } else if (st == kMore && !final) {
                    return out;
                }
            }
            if (rest.empty() && !final) return out;
            const bool may_open = may_start(rest, f_.call_open) || may_start(rest, f_.alt_open) ||
                                  (f_.bare_at_start && !rest.empty() && rest[0] == '{');
            if (!may_open || rest.empty()) {  // the calls are over: what follows is content
                held_.erase(0, i);
                out.content += section_text_;  // a section no call followed
                section_text_.clear();
                state_ = State::content;
                at_start_ = false;
                if (held_.empty()) return out;
                continue;
            }
            held_.erase(0, i);
        }
        // A call starts at held_[0].
        size_t used = 0;
        std::vector<ToolCall> calls;
        const Step st = parse_call(held_, used, calls);
        if (st == Step::more && !final) return out;
        if (st == Step::done) {
            held_.erase(0, used);
            for (ToolCall& c : calls) out.calls.push_back(std::move(c));
            section_text_.clear();
            at_start_ = false;
            if (state_ == State::content) state_ = State::between;
            if (f_.layout == CallLayout::json_list) state_ = State::content;  // the list held them all
            continue;
        }
        // Not a call: its first byte is content, and scanning goes on after it.
        state_ = State::content;
        out.content += section_text_;
        section_text_.clear();
        if (final) {
            emit(held_.size());
            return out;
        }
        emit(std::max<size_t>(1, opener.empty() ? 1 : std::min(opener.size(), held_.size())));
    }
}

ToolCallParser::Out parse_tool_calls(const ToolFormat& format, std::string_view text) {
    ToolCallParser p(format);
    ToolCallParser::Out a = p.feed(text), b = p.flush();
    a.content += b.content;
    for (ToolCall& c : b.calls) a.calls.push_back(std::move(c));
    return a;
}

}  // namespace loom::server
