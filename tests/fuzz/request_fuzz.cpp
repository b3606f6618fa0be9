// libFuzzer target for the HTTP API's request parsing: arbitrary bytes as a body for every endpoint's parser.
// Invariants: no crash or exception; an error is a 4xx naming something; an accepted request holds values the
// engine accepts (sampling parameters validate, token ids inside the vocabulary, n and logprobs in range), so
// that nothing a client sends can surface later as a 5xx.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "server/request.h"

namespace {

using namespace loom::server;

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "request_fuzz: invariant broken: %s\n", what);
    std::abort();
}

Limits limits() {
    Limits l;
    l.n_vocab = 1000;
    l.n_ctx = 512;
    l.max_n = 4;
    return l;
}

void check_error(const MaybeError& e) {
    if (e && (e->status < 400 || e->status >= 500 || e->message.empty()))
        fail("an error that is not a 4xx with a message");
}

void check_generation(const GenerationParams& g, const Limits& lim) {
    if (!g.sampling.validate(lim.n_vocab).ok()) fail("accepted sampling parameters that do not validate");
    if (g.n < 1 || g.n > lim.max_n) fail("n out of range");
    if (g.logprobs > lim.max_top_logprobs) fail("logprobs out of range");
    if (g.max_tokens == 0 || g.max_tokens < -1) fail("max_tokens out of range");
    for (int32_t id : g.stop_ids)
        if (id < 0 || id >= lim.n_vocab) fail("stop id outside the vocabulary");
    for (const auto& s : g.stop)
        if (s.empty()) fail("empty stop string");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    const Limits lim = limits();
    Json j;
    auto e = parse_body(body, j);
    check_error(e);
    if (e) return 0;
    ChatRequest chat;
    e = parse_chat_request(j, lim, chat);
    check_error(e);
    if (!e) {
        check_generation(chat.gen, lim);
        if (chat.messages.empty()) fail("accepted a chat without messages");
    }
    CompletionRequest comp;
    e = parse_completion_request(j, lim, comp);
    check_error(e);
    if (!e) {
        check_generation(comp.gen, lim);
        if (comp.prompts.empty()) fail("accepted a completion without a prompt");
        for (const auto& p : comp.prompts)
            for (int32_t id : p.tokens)
                if (id < 0 || id >= lim.n_vocab) fail("prompt id outside the vocabulary");
    }
    TokenizeRequest tok;
    check_error(parse_tokenize_request(j, tok));
    DetokenizeRequest detok;
    check_error(parse_detokenize_request(j, lim, detok));
    return 0;
}
