// llama_ref: llama.cpp as the reference for loom's equivalence tests. A thin command-line wrapper over
// llama.cpp's public C API (llama.h) that prints JSON on stdout: tokenization, top-K next-token logprobs
// at every position, and greedy generation. Built by tools/llama_ref/build.sh; never linked into loom.
#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "ggml.h"
#include "llama.h"

#ifndef LLAMA_REF_LLAMA_CPP_VERSION
#define LLAMA_REF_LLAMA_CPP_VERSION "unknown"
#endif

namespace {

constexpr const char* kUsage =
    R"(usage: llama_ref COMMAND -m MODEL [options]     (JSON on stdout, llama.cpp's log on stderr)

commands:
  tokenize  -m MODEL -p TEXT [--no-special-add] [--parse-special]
            -> {"tokens": [...], "pieces": [...]}
  logprobs  -m MODEL (--tokens 1,2,3 | --tokens-file F | -p TEXT) [--top-k 10] [--kv f32|f16]
            [--flash on|off] [-t 2] [-c N] [-ub N]
            -> top-K of the next-token distribution after every position, one pass over all tokens
  generate  -m MODEL (--tokens ... | --tokens-file F | -p TEXT) [-n 64] [--kv f32|f16] [--flash on|off]
            [-t 2] [-c N] [--ignore-eos]
            -> greedy (argmax) continuation: tokens, the concatenated text of their pieces, and per step
               the logit margin of the chosen token over the runner-up
  dump      -m MODEL (--tokens ... | --tokens-file F | -p TEXT) --dump-file F [--kv ...] [-t 2]
            -> one pass like logprobs; every contiguous f32 intermediate llama.cpp computes is written to F
               with its exact bits (tools/compare_dumps.py reads it next to `loom eval --dump`):
               per tensor "<name>/<op>" u32 length + bytes, 4 x i64 ne, then ne0*ne1*ne2*ne3 f32

Token ids given with --tokens / --tokens-file are evaluated exactly as given (nothing is added).
A text prompt (-p) is tokenized by llama.cpp with its special tokens added (BOS when the vocab asks for it)
unless --no-special-add; --parse-special lets the text name special tokens such as <start_of_turn>.
Defaults: f32 KV cache, flash attention off, 2 threads, context = number of tokens (+ n for generate).
  -ub N     physical batch size: llama.cpp splits the pass into batches of N tokens (default: one batch of
            all tokens; another split changes which matmul kernels run: a probe of numerical sensitivity)
  -v        show llama.cpp's info log on stderr (warnings and errors are always shown)
)";

[[noreturn]] void die(const char* fmt, ...) {
    std::fputs("llama_ref: ", stderr);
    va_list ap;
    va_start(ap, fmt);
    std::vfprintf(stderr, fmt, ap);
    va_end(ap);
    std::fputc('\n', stderr);
    std::exit(1);
}

struct Options {
    std::string command;
    std::string model;
    std::optional<std::string> prompt;       // -p
    std::optional<std::string> tokens;       // --tokens "1,2,3"
    std::optional<std::string> tokens_file;  // --tokens-file (ids separated by commas or whitespace)
    bool add_special = true;
    bool parse_special = false;
    int top_k = 10;
    bool kv_f16 = false;
    bool flash = false;
    int n_threads = 2;
    int n_ctx = 0;     // 0: just enough for the tokens
    int n_ubatch = 0;  // 0: all tokens in one physical batch
    int n_predict = 64;
    bool ignore_eos = false;
    bool verbose = false;
    std::string dump_file;  // dump: where the intermediates go
};

int parse_int(std::string_view flag, const char* s) {
    char* end = nullptr;
    const long v = std::strtol(s, &end, 10);
    if (end == s || *end != '\0' || v < 0 || v > (1L << 30))
        die("%.*s: expected a non-negative integer, got '%s'", int(flag.size()), flag.data(), s);
    return int(v);
}

Options parse_args(int argc, char** argv) {
    if (argc < 2 || std::string_view(argv[1]) == "-h" || std::string_view(argv[1]) == "--help") {
        std::fputs(kUsage, argc < 2 ? stderr : stdout);
        std::exit(argc < 2 ? 2 : 0);
    }
    Options o;
    o.command = argv[1];
    for (int i = 2; i < argc; ++i) {
        const std::string_view a = argv[i];
        auto value = [&]() -> const char* {
            if (i + 1 >= argc) die("%s needs a value", argv[i]);
            return argv[++i];
        };
        if (a == "-m" || a == "--model") o.model = value();
        else if (a == "-p" || a == "--prompt") o.prompt = value();
        else if (a == "--tokens") o.tokens = value();
        else if (a == "--tokens-file") o.tokens_file = value();
        else if (a == "--no-special-add") o.add_special = false;
        else if (a == "--parse-special") o.parse_special = true;
        else if (a == "--top-k") o.top_k = parse_int(a, value());
        else if (a == "-t" || a == "--threads") o.n_threads = parse_int(a, value());
        else if (a == "-c" || a == "--ctx-size") o.n_ctx = parse_int(a, value());
        else if (a == "-ub" || a == "--ubatch-size") o.n_ubatch = parse_int(a, value());
        else if (a == "-n" || a == "--n-predict") o.n_predict = parse_int(a, value());
        else if (a == "--ignore-eos") o.ignore_eos = true;
        else if (a == "-v" || a == "--verbose") o.verbose = true;
        else if (a == "--dump-file") o.dump_file = value();
        else if (a == "--kv") {
            const std::string_view v = value();
            if (v != "f32" && v != "f16") die("--kv: expected f32 or f16, got '%.*s'", int(v.size()), v.data());
            o.kv_f16 = v == "f16";
        } else if (a == "--flash") {
            const std::string_view v = value();
            if (v != "on" && v != "off") die("--flash: expected on or off, got '%.*s'", int(v.size()), v.data());
            o.flash = v == "on";
        } else die("unknown argument '%s' (see llama_ref --help)", argv[i]);
    }
    if (o.command != "tokenize" && o.command != "logprobs" && o.command != "generate" && o.command != "dump")
        die("unknown command '%s' (expected tokenize, logprobs, generate or dump)", o.command.c_str());
    if (o.command == "dump" && o.dump_file.empty()) die("dump needs --dump-file F");
    if (o.model.empty()) die("-m MODEL is required");
    const int n_inputs = int(o.prompt.has_value()) + int(o.tokens.has_value()) + int(o.tokens_file.has_value());
    if (o.command == "tokenize" && (!o.prompt || n_inputs != 1)) die("tokenize needs -p TEXT (only)");
    if (o.command != "tokenize" && n_inputs != 1)
        die("%s needs exactly one of --tokens, --tokens-file, -p", o.command.c_str());
    if (o.n_threads < 1) die("-t must be at least 1");
    if (o.top_k < 1) die("--top-k must be at least 1");
    return o;
}

// ---- JSON output -------------------------------------------------------------------------------------

// Appends s as a JSON string. Bytes that are not valid UTF-8 (a piece can be a lone byte of a multi-byte
// character) become U+FFFD, so the output always parses; the token ids stay the exact record.
void append_json_string(std::string& out, std::string_view s) {
    out += '"';
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const size_t n = s.size();
    for (size_t i = 0; i < n;) {
        const unsigned char c = p[i];
        if (c < 0x80) {
            switch (c) {
                case '"': out += "\\\""; break;
                case '\\': out += "\\\\"; break;
                case '\n': out += "\\n"; break;
                case '\r': out += "\\r"; break;
                case '\t': out += "\\t"; break;
                default:
                    if (c < 0x20) {
                        char buf[8];
                        std::snprintf(buf, sizeof buf, "\\u%04x", c);
                        out += buf;
                    } else {
                        out += char(c);
                    }
            }
            ++i;
            continue;
        }
        // Length and the smallest code point for that length (rejects overlong forms).
        int len = 0;
        uint32_t cp = 0, min_cp = 0;
        if ((c & 0xE0) == 0xC0) len = 2, cp = c & 0x1F, min_cp = 0x80;
        else if ((c & 0xF0) == 0xE0) len = 3, cp = c & 0x0F, min_cp = 0x800;
        else if ((c & 0xF8) == 0xF0) len = 4, cp = c & 0x07, min_cp = 0x10000;
        bool ok = len > 0 && i + size_t(len) <= n;
        for (int k = 1; ok && k < len; ++k) {
            if ((p[i + size_t(k)] & 0xC0) != 0x80) ok = false;
            else cp = (cp << 6) | (p[i + size_t(k)] & 0x3F);
        }
        ok = ok && cp >= min_cp && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
        if (ok) {
            out.append(s.data() + i, size_t(len));
            i += size_t(len);
        } else {
            out += "\xEF\xBF\xBD";
            ++i;
        }
    }
    out += '"';
}

std::string json_string(std::string_view s) {
    std::string out;
    append_json_string(out, s);
    return out;
}

template <typename T>
std::string json_int_array(const std::vector<T>& v) {
    std::string out = "[";
    for (size_t i = 0; i < v.size(); ++i) {
        if (i) out += ',';
        out += std::to_string(v[i]);
    }
    return out + "]";
}

// ---- llama.cpp helpers ---------------------------------------------------------------------------------

bool g_verbose = false;

void log_callback(ggml_log_level level, const char* text, void*) {
    // Warnings and errors always reach stderr: they are how llama.cpp reports surprises in a file.
    // CONT lines continue the previous message; show them only with -v (most are info).
    if (g_verbose || level == GGML_LOG_LEVEL_WARN || level == GGML_LOG_LEVEL_ERROR) std::fputs(text, stderr);
}

std::vector<llama_token> tokenize(const llama_vocab* vocab, const std::string& text, bool add_special,
                                  bool parse_special) {
    std::vector<llama_token> ids(text.size() + 8);
    int32_t n = llama_tokenize(vocab, text.data(), int32_t(text.size()), ids.data(), int32_t(ids.size()), add_special,
                               parse_special);
    if (n < 0 && n != INT32_MIN) {
        ids.resize(size_t(-n));
        n = llama_tokenize(vocab, text.data(), int32_t(text.size()), ids.data(), int32_t(ids.size()), add_special,
                           parse_special);
    }
    if (n < 0) die("llama_tokenize failed (%d)", n);
    ids.resize(size_t(n));
    return ids;
}

// The piece of one token as llama.cpp renders it for output (special tokens rendered, no lstrip).
std::string piece(const llama_vocab* vocab, llama_token id) {
    std::string buf(64, '\0');
    int32_t n = llama_token_to_piece(vocab, id, buf.data(), int32_t(buf.size()), 0, true);
    if (n < 0) {
        buf.resize(size_t(-n));
        n = llama_token_to_piece(vocab, id, buf.data(), int32_t(buf.size()), 0, true);
    }
    if (n < 0) die("llama_token_to_piece failed for token %d", id);
    buf.resize(size_t(n));
    return buf;
}

std::vector<llama_token> parse_ids(const std::string& text, const char* what) {
    std::vector<llama_token> ids;
    std::string cur;
    auto flush = [&] {
        if (cur.empty()) return;
        char* end = nullptr;
        const long v = std::strtol(cur.c_str(), &end, 10);
        if (*end != '\0' || v < 0 || v > INT32_MAX) die("%s: '%s' is not a token id", what, cur.c_str());
        ids.push_back(llama_token(v));
        cur.clear();
    };
    for (char c : text) {
        if (c == ',' || c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '[' || c == ']') flush();
        else cur += c;
    }
    flush();
    return ids;
}

struct Session {
    llama_model* model = nullptr;
    llama_context* ctx = nullptr;
    const llama_vocab* vocab = nullptr;
    int n_vocab = 0;

    ~Session() {
        if (ctx) llama_free(ctx);
        if (model) llama_model_free(model);
    }
};

void load_model(Session& s, const Options& o) {
    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;  // CPU only: the reference numerics are the CPU backend's
    s.model = llama_model_load_from_file(o.model.c_str(), mp);
    if (!s.model) die("%s: llama.cpp could not load the model (see its log above)", o.model.c_str());
    s.vocab = llama_model_get_vocab(s.model);
    s.n_vocab = llama_vocab_n_tokens(s.vocab);
}

// A context sized for n_tokens in one batch: every position can produce logits in a single llama_decode.
void make_context(Session& s, const Options& o, int n_tokens, ggml_backend_sched_eval_callback cb = nullptr,
                  void* cb_data = nullptr) {
    llama_context_params cp = llama_context_default_params();
    cp.cb_eval = cb;
    cp.cb_eval_user_data = cb_data;
    const uint32_t n = uint32_t(std::max(n_tokens, 1));
    cp.n_ctx = std::max(n, uint32_t(o.n_ctx));
    cp.n_batch = n;
    cp.n_ubatch = o.n_ubatch > 0 ? std::min(n, uint32_t(o.n_ubatch)) : n;
    cp.n_seq_max = 1;
    cp.n_threads = o.n_threads;
    cp.n_threads_batch = o.n_threads;
    cp.type_k = o.kv_f16 ? GGML_TYPE_F16 : GGML_TYPE_F32;
    cp.type_v = o.kv_f16 ? GGML_TYPE_F16 : GGML_TYPE_F32;
    cp.flash_attn_type = o.flash ? LLAMA_FLASH_ATTN_TYPE_ENABLED : LLAMA_FLASH_ATTN_TYPE_DISABLED;
    cp.no_perf = true;
    s.ctx = llama_init_from_model(s.model, cp);
    if (!s.ctx) die("llama_init_from_model failed (n_ctx %u)", cp.n_ctx);
}

// Decodes tokens at positions pos0.. in one batch; with all_logits every position gets an output row.
void decode(Session& s, const std::vector<llama_token>& tokens, int pos0, bool all_logits) {
    llama_batch b = llama_batch_init(int32_t(tokens.size()), 0, 1);
    b.n_tokens = int32_t(tokens.size());
    for (size_t i = 0; i < tokens.size(); ++i) {
        b.token[i] = tokens[i];
        b.pos[i] = llama_pos(pos0 + int(i));
        b.n_seq_id[i] = 1;
        b.seq_id[i][0] = 0;
        b.logits[i] = all_logits || i + 1 == tokens.size();
    }
    const int32_t rc = llama_decode(s.ctx, b);
    llama_batch_free(b);
    if (rc != 0) die("llama_decode failed (%d) for %zu tokens at position %d", rc, tokens.size(), pos0);
}

std::vector<llama_token> input_tokens(const Session& s, const Options& o) {
    std::vector<llama_token> ids;
    if (o.tokens) ids = parse_ids(*o.tokens, "--tokens");
    else if (o.tokens_file) {
        std::ifstream f(*o.tokens_file);
        if (!f) die("%s: cannot open", o.tokens_file->c_str());
        std::stringstream ss;
        ss << f.rdbuf();
        ids = parse_ids(ss.str(), o.tokens_file->c_str());
    } else {
        ids = tokenize(s.vocab, *o.prompt, o.add_special, o.parse_special);
    }
    if (ids.empty()) die("no tokens to evaluate");
    for (llama_token id : ids)
        if (id < 0 || id >= s.n_vocab) die("token id %d outside the vocabulary (%d tokens)", id, s.n_vocab);
    return ids;
}

// The run's settings, so a recorded result says how it was produced.
std::string config_json(const Session& s, const Options& o) {
    char desc[256] = {0};
    llama_model_desc(s.model, desc, sizeof desc);
    std::string out = "{\"llama_cpp\":" + json_string(LLAMA_REF_LLAMA_CPP_VERSION);
    out += ",\"model_desc\":" + json_string(desc);
    out += ",\"n_vocab\":" + std::to_string(s.n_vocab);
    out += ",\"kv\":" + json_string(o.kv_f16 ? "f16" : "f32");
    out += std::string(",\"flash_attn\":") + (o.flash ? "true" : "false");
    out += ",\"n_threads\":" + std::to_string(o.n_threads);
    out += ",\"n_ctx\":" + std::to_string(llama_n_ctx(s.ctx));
    out += ",\"n_ubatch\":" + std::to_string(llama_n_ubatch(s.ctx));
    out += ",\"system_info\":" + json_string(llama_print_system_info());
    return out + "}";
}

// ---- commands ------------------------------------------------------------------------------------------

int cmd_tokenize(const Options& o) {
    Session s;
    llama_model_params mp = llama_model_default_params();
    mp.vocab_only = true;
    s.model = llama_model_load_from_file(o.model.c_str(), mp);
    if (!s.model) die("%s: llama.cpp could not load the vocabulary (see its log above)", o.model.c_str());
    s.vocab = llama_model_get_vocab(s.model);
    const std::vector<llama_token> ids = tokenize(s.vocab, *o.prompt, o.add_special, o.parse_special);
    std::string out = "{\"tokens\":" + json_int_array(ids) + ",\"pieces\":[";
    for (size_t i = 0; i < ids.size(); ++i) {
        if (i) out += ',';
        append_json_string(out, piece(s.vocab, ids[i]));
    }
    out += "]}\n";
    std::fputs(out.c_str(), stdout);
    return 0;
}

int cmd_logprobs(const Options& o) {
    Session s;
    load_model(s, o);
    const std::vector<llama_token> ids = input_tokens(s, o);
    make_context(s, o, int(ids.size()));
    decode(s, ids, 0, true);

    const int k = std::min(o.top_k, s.n_vocab);
    std::vector<int> order(size_t(s.n_vocab));
    std::string out = "{\"config\":" + config_json(s, o);
    out += ",\"tokens\":" + json_int_array(ids);
    out += ",\"top_k\":" + std::to_string(k) + ",\"positions\":[";
    char num[64];
    for (size_t i = 0; i < ids.size(); ++i) {
        const float* logits = llama_get_logits_ith(s.ctx, int32_t(i));
        if (!logits) die("no logits for position %zu", i);
        // log-softmax over the whole vocabulary, in double.
        double mx = -INFINITY;
        for (int v = 0; v < s.n_vocab; ++v) {
            if (!std::isfinite(logits[v])) die("position %zu: logit of token %d is %g", i, v, double(logits[v]));
            mx = std::max(mx, double(logits[v]));
        }
        double sum = 0.0;
        for (int v = 0; v < s.n_vocab; ++v) sum += std::exp(double(logits[v]) - mx);
        const double log_z = mx + std::log(sum);
        // Top-k by logit, ties to the lower id.
        for (int v = 0; v < s.n_vocab; ++v) order[size_t(v)] = v;
        std::partial_sort(order.begin(), order.begin() + k, order.end(),
                          [&](int a, int b) { return logits[a] != logits[b] ? logits[a] > logits[b] : a < b; });
        out += i ? ",[" : "[";
        for (int j = 0; j < k; ++j) {
            const int v = order[size_t(j)];
            std::snprintf(num, sizeof num, "%s[%d,%.9g]", j ? "," : "", v, double(logits[v]) - log_z);
            out += num;
        }
        out += "]";
    }
    out += "]}\n";
    std::fputs(out.c_str(), stdout);
    return 0;
}

int cmd_generate(const Options& o) {
    Session s;
    load_model(s, o);
    const std::vector<llama_token> prompt = input_tokens(s, o);
    make_context(s, o, int(prompt.size()) + o.n_predict);
    decode(s, prompt, 0, false);

    std::vector<llama_token> gen;
    std::vector<float> margins;  // logit of the chosen token minus the runner-up's: near-ties explain divergence
    std::string text;
    const char* stop = "length";
    int pos = int(prompt.size());
    for (int step = 0; step < o.n_predict; ++step) {
        const float* logits = llama_get_logits_ith(s.ctx, -1);
        if (!logits) die("no logits at step %d", step);
        int best = 0, second = -1;  // argmax, ties to the lower id
        for (int v = 1; v < s.n_vocab; ++v) {
            if (logits[v] > logits[best]) second = best, best = v;
            else if (second < 0 || logits[v] > logits[second]) second = v;
        }
        gen.push_back(best);
        margins.push_back(second < 0 ? 0.0f : logits[best] - logits[second]);
        if (!o.ignore_eos && llama_vocab_is_eog(s.vocab, best)) {
            stop = "eog";  // the end-of-generation token is listed, its piece is not part of the text
            break;
        }
        text += piece(s.vocab, best);
        if (step + 1 < o.n_predict) decode(s, {best}, pos++, false);
    }
    std::string out = "{\"config\":" + config_json(s, o);
    out += ",\"prompt_tokens\":" + json_int_array(prompt);
    out += ",\"tokens\":" + json_int_array(gen);
    out += ",\"text\":" + json_string(text);
    out += ",\"margins\":[";
    char num[32];
    for (size_t i = 0; i < margins.size(); ++i) {
        std::snprintf(num, sizeof num, "%s%.6g", i ? "," : "", double(margins[i]));
        out += num;
    }
    out += "]";
    out += ",\"stop\":" + json_string(stop) + "}\n";
    std::fputs(out.c_str(), stdout);
    return 0;
}

// dump: the eval callback asks for every tensor and writes the contiguous f32 ones once computed.
bool dump_tensor(ggml_tensor* t, bool ask, void* user) {
    if (ask) return true;
    if (t->type != GGML_TYPE_F32 || !ggml_is_contiguous(t) || t->data == nullptr) return true;
    std::FILE* f = static_cast<std::FILE*>(user);
    const std::string name = std::string(t->name) + "/" + ggml_op_desc(t);
    const uint32_t len = uint32_t(name.size());
    std::fwrite(&len, 4, 1, f);
    std::fwrite(name.data(), 1, len, f);
    const int64_t ne[4] = {t->ne[0], t->ne[1], t->ne[2], t->ne[3]};
    std::fwrite(ne, 8, 4, f);
    std::fwrite(t->data, 4, size_t(ggml_nelements(t)), f);  // CPU backend: data is host memory
    return true;
}

int cmd_dump(const Options& o) {
    Session s;
    load_model(s, o);
    const std::vector<llama_token> ids = input_tokens(s, o);
    std::FILE* f = std::fopen(o.dump_file.c_str(), "wb");
    if (!f) die("%s: cannot create", o.dump_file.c_str());
    make_context(s, o, int(ids.size()), dump_tensor, f);
    decode(s, ids, 0, true);
    if (std::fclose(f) != 0) die("%s: write failed", o.dump_file.c_str());
    std::printf("{\"config\":%s,\"tokens\":%s}\n", config_json(s, o).c_str(), json_int_array(ids).c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const Options o = parse_args(argc, argv);
    g_verbose = o.verbose;
    llama_log_set(log_callback, nullptr);
    llama_backend_init();
    int rc = 0;
    if (o.command == "tokenize") rc = cmd_tokenize(o);
    else if (o.command == "logprobs") rc = cmd_logprobs(o);
    else if (o.command == "dump") rc = cmd_dump(o);
    else rc = cmd_generate(o);
    llama_backend_free();
    return rc;
}
