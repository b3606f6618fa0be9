// Endpoint handlers. A generation request becomes one SequenceSpec per choice (prompts × n); its events are
// gathered into one JSON answer, or written as SSE chunks as they come.
#include "server/routes.h"

#include <httplib.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <memory>

#include "core/build_info.h"
#include "diagram/diagram.h"
#include "diagram/render.h"
#include "server/connection.h"
#include "server/reasoning.h"
#include "server/request.h"
#include "server/response.h"
#include "server/scheduler.h"
#include "server/served_model.h"
#include "server/tool_parser.h"

namespace loom::server {
namespace {

constexpr std::chrono::milliseconds kPoll{50};  // how often a waiting handler checks that its client is there

// Everything about one generation request that answering it needs.
struct Generation {
    bool chat = false;
    bool echo = false;
    ResponseMeta meta;
    GenerationParams gen;
    std::vector<SequenceSpec> seqs;
    std::vector<std::string> prompt_text;  // per choice (echo)
    bool think = false;                    // split reasoning_content out
    const ToolFormat* tools = nullptr;     // read tool calls out of the content in this syntax; null: none
    std::vector<bool> think_inside;        // per choice: the prompt opened the thinking block
    Usage usage;                           // prompt tokens known up front; completion tokens added as choices end
};

// A sequence's last event: its tokens in the usage (the prompt's cached tokens once, from its first choice).
void count_finished(Generation& g, const SequenceEvent& ev) {
    g.usage.completion += ev.n_generated;
    if (ev.index % std::max(1, g.gen.n) == 0) g.usage.cached += ev.n_cached;
}

// A diffusion model fills a canvas with top-k / top-p / temperature draws: fields that change what a left-to-right
// sampler does, or report its per-token steps, cannot be honoured and are refused by name.
std::optional<ApiError> diffusion_refusal(const GenerationParams& g) {
    const runtime::SamplingParams& s = g.sampling;
    const char* field = g.logprobs >= 0              ? "logprobs"
                        : s.min_p > 0.f              ? "min_p"
                        : s.repeat_penalty != 1.f    ? "repetition_penalty"
                        : s.presence_penalty != 0.f  ? "presence_penalty"
                        : s.frequency_penalty != 0.f ? "frequency_penalty"
                        : !s.logit_bias.empty()      ? "logit_bias"
                        : g.grammar                  ? "response_format"
                                                     : nullptr;
    if (!field) return std::nullopt;
    return ApiError::field(field, "unsupported_parameter",
                           "the model generates by diffusion (a canvas unmasked over steps, with top_k, top_p and "
                           "temperature draws): {} does not apply",
                           field);
}

// tool_choice against what the model's template can do: a forced call needs a call syntax the server reads and
// enforces, and leaves no room for another output constraint.
MaybeError check_tool_choice(const ChatRequest& r, const ServedModel& model) {
    if (!r.tools.forces_call()) return std::nullopt;
    if (!model.tool_format || !model.tool_format->can_force)
        return ApiError::field("tool_choice", "unsupported_parameter",
                               "the model's chat template has no tool-call syntax this server can enforce{}",
                               model.tool_format ? fmt::format(" ({})", model.tool_format->name) : "");
    if (r.gen.grammar)
        return ApiError::field("tool_choice", "invalid_value",
                               "a required or named tool call cannot be combined with response_format, grammar or "
                               "json_schema");
    return std::nullopt;
}

// tool_choice required or named: a grammar that admits only calls of the allowed tools. `inside`: the prompt
// left a thinking block open, which the reply closes first.
MaybeError force_tool_call(ChatRequest& r, const ToolFormat& format, bool inside) {
    auto g = call_grammar(format, r.tools.callable(), r.tools.parallel, inside ? "</think>\n\n" : "");
    if (!g.ok()) return ApiError::field("tools", "invalid_value", "{}", g.error().message());
    r.gen.grammar = std::move(g).value();
    return std::nullopt;
}

ApiError internal_error(const std::string& what) { return ApiError::make(500, "server_error", "internal_error", what); }

// The per-choice SequenceSpec of one prompt.
void add_choices(Generation& g, const ServedModel& model, const std::vector<int32_t>& ids,
                 const std::string& prompt_text, bool inside) {
    // A model may have more output rows than its vocabulary has tokens (padding): those ids have no text, so
    // they are never drawn.
    for (int64_t id = model.vocab->n_tokens(); id < model.model->n_vocab(); ++id)
        g.gen.sampling.logit_bias[int32_t(id)] = -INFINITY;
    for (int j = 0; j < g.gen.n; ++j) {
        SequenceSpec s;
        s.index = int(g.seqs.size());
        s.prompt = ids;
        s.sampling = g.gen.sampling;
        // Choices of one request differ; a given seed still makes the whole response reproducible.
        s.sampling.seed =
            g.gen.seed_given ? g.gen.sampling.seed + uint64_t(s.index) : runtime::resolve_seed(runtime::kRandomSeed);
        s.max_tokens = g.gen.max_tokens;
        s.stop = g.gen.stop;
        s.stop_ids = g.gen.stop_ids;
        s.logprobs = g.gen.logprobs;
        s.prompt_logprobs = g.echo && g.gen.logprobs >= 0;
        s.grammar = g.gen.grammar;
        s.render_special = g.tools != nullptr;  // call markers may be control tokens
        g.seqs.push_back(std::move(s));
        g.prompt_text.push_back(prompt_text);
        g.think_inside.push_back(inside);
    }
    g.usage.prompt += int64_t(ids.size());
}

// The state of one streamed answer; the content provider runs after the handler returned, so it is shared.
struct StreamState {
    Generation g;
    std::shared_ptr<RequestStream> stream;
    const tokenizer::Vocab* vocab = nullptr;
    int fd = -1;
    bool started = false;
    size_t n_finished = 0;
    std::vector<ReasoningSplitter> splitters;
    std::vector<ToolCallParser> tool_parsers;  // per choice, when tool calls are read
    std::vector<int> n_calls;                  // per choice: calls streamed so far
    std::vector<size_t> offsets;               // legacy logprobs text_offset per choice
    std::chrono::milliseconds keep_alive{0};
    std::chrono::steady_clock::time_point last_write;
};

// The SSE text for one event of a streamed answer.
std::string stream_event(StreamState& st, SequenceEvent& ev) {
    std::string out;
    const Generation& g = st.g;
    if (ev.finish == Finish::error) {
        out += sse_event(internal_error(ev.error).to_json());
    }
    const Json finish = ev.finish == Finish::none ? Json(nullptr) : Json(finish_reason(ev.finish));
    if (g.chat) {
        ReasoningSplitter& sp = st.splitters[size_t(ev.index)];
        ReasoningSplitter::Out o = sp.feed(ev.text);
        if (ev.finish != Finish::none) {
            ReasoningSplitter::Out rest = sp.flush();
            o.reasoning += rest.reasoning;
            o.content += rest.content;
        }
        Json lp = g.gen.logprobs >= 0 && !ev.tokens.empty() ? chat_logprobs(ev.tokens, *st.vocab) : Json(nullptr);
        std::vector<ToolCall> calls;
        if (g.tools) {
            ToolCallParser& tp = st.tool_parsers[size_t(ev.index)];
            ToolCallParser::Out t = tp.feed(o.content);
            if (ev.finish != Finish::none) {
                ToolCallParser::Out rest = tp.flush();
                t.content += rest.content;
                for (ToolCall& c : rest.calls) t.calls.push_back(std::move(c));
            }
            o.content = std::move(t.content);
            calls = std::move(t.calls);
        }
        if (!o.reasoning.empty() || !o.content.empty() || !lp.is_null()) {
            Json delta = Json::object();
            if (!o.reasoning.empty()) delta["reasoning_content"] = o.reasoning;
            if (!o.content.empty() || o.reasoning.empty()) delta["content"] = o.content;
            out += sse_event(chat_chunk(g.meta, ev.index, std::move(delta), nullptr, std::move(lp)));
        }
        int& n_calls = st.n_calls[size_t(ev.index)];
        for (const ToolCall& c : calls)
            for (Json& d : tool_call_deltas(c, n_calls++))
                out += sse_event(chat_chunk(g.meta, ev.index, std::move(d), nullptr));
        if (ev.finish != Finish::none)
            out += sse_event(chat_chunk(g.meta, ev.index, Json::object(), chat_finish(ev.finish, n_calls > 0)));
    } else {
        Json lp = nullptr;
        if (g.gen.logprobs >= 0 && !ev.tokens.empty()) {
            size_t& off = st.offsets[size_t(ev.index)];
            lp = legacy_logprobs(ev.tokens, *st.vocab, off);
            for (const TokenInfo& t : ev.tokens) off += token_text(*st.vocab, t.id).size();
        }
        if (!ev.text.empty() || !lp.is_null() || ev.finish != Finish::none)
            out += sse_event(completion_chunk(g.meta, ev.index, ev.text, finish, std::move(lp)));
    }
    if (ev.finish != Finish::none) {
        count_finished(st.g, ev);
        ++st.n_finished;
    }
    return out;
}

void answer_streamed(Generation g, std::shared_ptr<RequestStream> stream, const tokenizer::Vocab& vocab, int fd,
                     std::chrono::milliseconds keep_alive, httplib::Response& res) {
    auto st = std::make_shared<StreamState>();
    st->keep_alive = keep_alive;
    st->last_write = std::chrono::steady_clock::now();
    st->stream = std::move(stream);
    st->vocab = &vocab;
    st->fd = fd;
    for (size_t i = 0; i < g.seqs.size(); ++i) {
        st->splitters.emplace_back(g.think, g.think_inside[i]);
        if (g.tools) st->tool_parsers.emplace_back(*g.tools);
    }
    st->n_calls.assign(g.seqs.size(), 0);
    st->offsets.assign(g.seqs.size(), 0);
    st->g = std::move(g);
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [st](size_t, httplib::DataSink& sink) -> bool {
            std::string out;
            if (!st->started) {  // chat streams open each choice with the assistant's role
                st->started = true;
                if (st->g.chat)
                    for (size_t i = 0; i < st->g.seqs.size(); ++i)
                        out += sse_event(
                            chat_chunk(st->g.meta, int(i), {{"role", "assistant"}, {"content", ""}}, nullptr));
            }
            SequenceEvent ev;
            if (out.empty() && !st->stream->next(ev, kPoll)) {
                if (peer_closed(st->fd)) {
                    st->stream->cancel();
                    return false;
                }
                // An SSE comment while nothing comes (a long prompt prefilling, a full queue): proxies and clients
                // with idle timeouts keep the connection; every SSE parser skips it.
                const auto now = std::chrono::steady_clock::now();
                if (st->keep_alive.count() > 0 && now - st->last_write >= st->keep_alive) {
                    st->last_write = now;
                    static constexpr std::string_view kKeepAlive = ": keep-alive\n\n";
                    if (!sink.write(kKeepAlive.data(), kKeepAlive.size())) {
                        st->stream->cancel();
                        return false;
                    }
                }
                return true;
            }
            if (out.empty()) out += stream_event(*st, ev);
            while (st->n_finished < st->g.seqs.size() && st->stream->next(ev, std::chrono::milliseconds(0)))
                out += stream_event(*st, ev);
            const bool done = st->n_finished == st->g.seqs.size();
            if (done) {
                if (st->g.gen.include_usage)
                    out += sse_event(
                        usage_chunk(st->g.meta, st->g.chat ? "chat.completion.chunk" : "text_completion", st->g.usage));
                out += kSseDone;
            }
            if (!out.empty() && !sink.write(out.data(), out.size())) {  // the client is gone
                st->stream->cancel();
                return false;
            }
            if (!out.empty()) st->last_write = std::chrono::steady_clock::now();
            if (done) sink.done();
            return true;
        },
        [st](bool) { st->stream->cancel(); });  // harmless after the end; stops generation if the write loop broke
}

void answer_whole(Generation& g, RequestStream& stream, const ServedModel& model, int fd, httplib::Response& res) {
    std::vector<ChoiceResult> choices(g.seqs.size());
    size_t n_finished = 0;
    std::string error;
    // The client is checked every kPoll whether or not events keep coming: a busy generation must notice too.
    auto next_check = std::chrono::steady_clock::now() + kPoll;
    while (n_finished < g.seqs.size()) {
        SequenceEvent ev;
        const bool got = stream.next(ev, kPoll);
        if (std::chrono::steady_clock::now() >= next_check) {
            next_check = std::chrono::steady_clock::now() + kPoll;
            if (peer_closed(fd)) {  // nobody to answer: stop generating
                stream.cancel();
                res.status = 499;
                return;
            }
        }
        if (!got) continue;
        ChoiceResult& c = choices[size_t(ev.index)];
        c.text += ev.text;
        c.tokens.insert(c.tokens.end(), ev.tokens.begin(), ev.tokens.end());
        if (!ev.prompt.empty()) c.prompt = std::move(ev.prompt);
        if (ev.finish != Finish::none) {
            c.finish = ev.finish;
            count_finished(g, ev);
            ++n_finished;
            if (ev.finish == Finish::error) error = ev.error;
        }
    }
    if (!error.empty()) return send_error(res, internal_error(error));
    Json body;
    if (g.chat) {
        for (size_t i = 0; i < choices.size(); ++i) {
            ReasoningSplitter sp(g.think, g.think_inside[i]);
            ReasoningSplitter::Out a = sp.feed(choices[i].text), b = sp.flush();
            choices[i].text = a.content + b.content;
            choices[i].reasoning = a.reasoning + b.reasoning;
            if (g.tools) {
                ToolCallParser::Out t = parse_tool_calls(*g.tools, choices[i].text);
                choices[i].text = std::move(t.content);
                choices[i].calls = std::move(t.calls);
            }
        }
        body = chat_completion(g.meta, choices, g.usage, *model.vocab, g.gen.logprobs >= 0);
    } else {
        if (g.echo)
            for (size_t i = 0; i < choices.size(); ++i) choices[i].prompt_text = g.prompt_text[i];
        body = text_completion(g.meta, choices, g.usage, *model.vocab, g.gen.logprobs >= 0);
    }
    res.set_content(dump_json(body), "application/json");
}

std::string fingerprint() { return std::string("loom-") + build_commit(); }

}  // namespace

void send_error(httplib::Response& res, const ApiError& e) {
    res.status = e.status;
    res.set_content(dump_json(e.to_json()), "application/json");
}

Api::Api(const ServedModel& model, Scheduler& scheduler, Metrics& metrics, std::chrono::milliseconds keep_alive)
    : model_(model), scheduler_(scheduler), metrics_(metrics), keep_alive_(keep_alive) {}

namespace {

// Submits a generation and answers it; the handler thread stays until the answer is complete or, for a
// stream, hands the rest to the content provider.
void run(Generation g, Scheduler& scheduler, const ServedModel& model, bool refusing,
         std::chrono::milliseconds keep_alive, const httplib::Request& req, httplib::Response& res) {
    if (refusing) {
        res.set_header("Retry-After", "5");
        return send_error(res, ApiError::make(503, "server_error", "shutting_down", "the server is shutting down"));
    }
    auto stream = std::make_shared<RequestStream>();
    switch (scheduler.submit(g.seqs, stream)) {
        case Scheduler::Submit::ok: break;
        case Scheduler::Submit::queue_full:
            res.set_header("Retry-After", "1");
            return send_error(res, ApiError::make(503, "server_error", "queue_full",
                                                  fmt::format("the server is busy: {} sequences are waiting (the queue "
                                                              "holds {}); retry later",
                                                              scheduler.load().queued, scheduler.options().max_queue)));
        case Scheduler::Submit::draining:
            res.set_header("Retry-After", "5");
            return send_error(res, ApiError::make(503, "server_error", "shutting_down", "the server is shutting down"));
    }
    const int fd = find_connection_socket(req.remote_addr, req.remote_port, req.local_port);
    if (g.gen.stream) return answer_streamed(std::move(g), std::move(stream), *model.vocab, fd, keep_alive, res);
    answer_whole(g, *stream, model, fd, res);
}

}  // namespace

void Api::chat_completions(const httplib::Request& req, httplib::Response& res) {
    Json body;
    ChatRequest r;
    if (auto e = parse_body(req.body, body)) return send_error(res, *e);
    if (auto e = parse_chat_request(body, model_.limits(scheduler_.options().n_parallel), r, req.body))
        return send_error(res, *e);
    if (model_.model->diffusion())
        if (auto e = diffusion_refusal(r.gen)) return send_error(res, *e);
    if (auto e = check_tool_choice(r, model_)) return send_error(res, *e);
    if (model_.model->diffusion() && r.tools.forces_call())
        return send_error(res, ApiError::field("tool_choice", "unsupported_parameter",
                                               "the model generates by diffusion: a forced tool call (a grammar) "
                                               "does not apply"));
    const bool forced = r.tools.forces_call();
    // A forced call comes first in the reply: thinking is switched off where the template has a switch.
    if (forced && model_.thinking_markers && !r.template_kwargs.contains("enable_thinking"))
        r.template_kwargs["enable_thinking"] = false;
    Generation g;
    g.chat = true;
    g.meta = {make_id("chatcmpl"), model_.name, fingerprint(), int64_t(std::time(nullptr))};
    std::string text;
    std::vector<int32_t> ids;
    if (auto e = model_.chat_prompt(r, text, ids)) return send_error(res, *e);
    const bool inside = ReasoningSplitter::prompt_opens_thinking(text);
    if (forced)
        if (auto e = force_tool_call(r, *model_.tool_format, inside)) return send_error(res, *e);
    g.gen = std::move(r.gen);
    g.think = model_.thinking_markers;
    if (r.tools.parse_calls()) g.tools = model_.tool_format;
    add_choices(g, model_, ids, "", inside);
    run(std::move(g), scheduler_, model_, refusing_.load(), keep_alive_, req, res);
}

void Api::completions(const httplib::Request& req, httplib::Response& res) {
    Json body;
    CompletionRequest r;
    if (auto e = parse_body(req.body, body)) return send_error(res, *e);
    if (auto e = parse_completion_request(body, model_.limits(scheduler_.options().n_parallel), r, req.body))
        return send_error(res, *e);
    if (model_.model->diffusion())
        if (auto e = diffusion_refusal(r.gen)) return send_error(res, *e);
    Generation g;
    g.gen = std::move(r.gen);
    g.echo = r.echo;
    g.meta = {make_id("cmpl"), model_.name, fingerprint(), int64_t(std::time(nullptr))};
    if (r.prompts.size() * size_t(g.gen.n) > size_t(scheduler_.options().max_queue))
        return send_error(res, ApiError::field("prompt", "invalid_value",
                                               "{} prompts × n = {} sequences; the server queues at most {}",
                                               r.prompts.size(), g.gen.n, scheduler_.options().max_queue));
    for (size_t i = 0; i < r.prompts.size(); ++i) {
        const std::string param = r.prompts.size() == 1 ? "prompt" : fmt::format("prompt[{}]", i);
        std::string text;
        std::vector<int32_t> ids;
        if (auto e = model_.completion_prompt(r.prompts[i], param, text, ids)) return send_error(res, *e);
        add_choices(g, model_, ids, text, false);
    }
    run(std::move(g), scheduler_, model_, refusing_.load(), keep_alive_, req, res);
}

void Api::models(const httplib::Request&, httplib::Response& res) {
    Json m = {{"id", model_.name},
              {"object", "model"},
              {"created", 0},
              {"owned_by", "loom"},
              {"meta",
               {{"n_ctx", model_.n_ctx},
                {"n_vocab", model_.vocab->n_tokens()},
                {"n_params", model_.model->n_params()},
                {"eog_ids", model_.vocab->eog_ids()}}}};
    res.set_content(dump_json(Json{{"object", "list"}, {"data", Json::array({m})}}), "application/json");
}

void Api::diagram(const httplib::Request&, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(diagram_mutex_);
    if (diagram_svg_.empty()) {
        auto d = diagram::from_model(*model_.model, model_.name);
        Result<std::string> svg =
            d.ok() ? diagram::render(diagram::to_dot(*d), diagram::Format::svg) : Result<std::string>(d.error());
        if (!svg.ok()) {
            send_error(res, ApiError::make(500, "server_error", "diagram",
                                           "cannot draw the model's diagram: " + svg.error().message()));
            return;
        }
        diagram_svg_ = std::move(*svg);
    }
    res.set_content(diagram_svg_, "image/svg+xml");
}

void Api::tokenize(const httplib::Request& req, httplib::Response& res) {
    Json body;
    TokenizeRequest r;
    if (auto e = parse_body(req.body, body)) return send_error(res, *e);
    if (auto e = parse_tokenize_request(body, r)) return send_error(res, *e);
    auto ids = model_.tokenizer->encode(r.content, r.add_special, /*parse_special=*/true);
    if (!ids.ok()) return send_error(res, ApiError::field("content", "invalid_value", "{}", ids.error().message()));
    Json tokens = Json::array();
    for (int32_t id : *ids) {
        if (r.with_pieces) tokens.push_back({{"id", id}, {"piece", model_.vocab->piece(id, true)}});
        else tokens.push_back(id);
    }
    res.set_content(dump_json(Json{{"tokens", std::move(tokens)}}), "application/json");
}

void Api::detokenize(const httplib::Request& req, httplib::Response& res) {
    Json body;
    DetokenizeRequest r;
    if (auto e = parse_body(req.body, body)) return send_error(res, *e);
    if (auto e = parse_detokenize_request(body, model_.limits(1), r)) return send_error(res, *e);
    res.set_content(dump_json(Json{{"content", model_.tokenizer->decode(r.tokens)}}), "application/json");
}

}  // namespace loom::server
