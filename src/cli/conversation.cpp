// A conversation over one Session: render the whole history, keep the KV of the longest common prefix with what
// the session holds, prefill the rest, and stream the reply through the stop strings and the reasoning split.
#include "cli/conversation.h"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "grammar/vocab_trie.h"
#include "runtime/stop_strings.h"
#include "server/reasoning.h"
#include "server/tool_format.h"

namespace loom::cli {

using Json = nlohmann::ordered_json;

namespace {

// A call's arguments as templates get them: an object (the parser hands over only calls whose arguments are a
// JSON object; text stays text otherwise).
Json arguments_object(const server::ToolCall& call) {
    Json j = Json::parse(call.arguments, nullptr, /*allow_exceptions=*/false);
    return j.is_discarded() ? Json(call.arguments) : j;
}

// The calls of an assistant message as the template form holds them, back in the parser's form.
std::vector<server::ToolCall> calls_of(const Json& tool_calls) {
    std::vector<server::ToolCall> out;
    for (const Json& c : tool_calls) {
        const Json& args = c["function"]["arguments"];
        out.push_back({c.value("id", ""), c["function"].value("name", ""),
                       args.is_string() ? args.get<std::string>() : args.dump()});
    }
    return out;
}

}  // namespace

void TurnStats::add(const TurnStats& t) {
    n_prompt += t.n_prompt;
    n_kept += t.n_kept;
    n_prefilled += t.n_prefilled;
    n_generated += t.n_generated;
    prefill_seconds += t.prefill_seconds;
    decode_seconds += t.decode_seconds;
    n_resets += t.n_resets;
    stop = t.stop;
}

Result<std::unique_ptr<Conversation>> Conversation::create(const runtime::Model& model, const std::string& model_path,
                                                           Options opt) {
    std::unique_ptr<Conversation> c(new Conversation());
    c->model_ = &model;
    LOOM_TRY(tokenizer::Vocab vocab, tokenizer::Vocab::load(model.file()));
    c->vocab_ = std::make_unique<tokenizer::Vocab>(std::move(vocab));
    c->tokenizer_ = std::make_unique<tokenizer::Tokenizer>(*c->vocab_);
    std::string source = opt.template_source;
    if (source.empty()) {
        auto from_file = tokenizer::chat_template_source(model.file());
        if (!from_file.ok())
            return Error::invalid(
                "{}: the model has no chat template (no tokenizer.chat_template), so it cannot "
                "chat: give one with --chat-template-file (tests/data/chat_templates/templates/ has "
                "some), or use `loom run` for plain completion",
                model_path);
        source = std::move(from_file).value();
    }
    auto tmpl = tokenizer::ChatTemplate::parse(source);
    if (!tmpl.ok()) return std::move(tmpl).error().with_context(model_path);
    c->template_ = std::move(tmpl).value();
    c->think_markers_ = source.find("</think>") != std::string::npos;
    LOOM_RETURN_IF_ERROR(opt.gen.sampling.validate(int32_t(model.n_vocab())));
    opt.gen.sampling.seed = runtime::resolve_seed(opt.gen.sampling.seed);
    opt.gen.eog = c->vocab_->eog_ids();
    LOOM_RETURN_IF_ERROR(opt.output.apply(*c->vocab_, int32_t(model.n_vocab()), opt.gen));
    if (opt.tools.parse_calls()) {
        const server::ToolFormat* f = server::detect_tool_format(source);
        if (f && f->layout != server::CallLayout::none) {
            c->tool_format_ = f;
        } else {
            c->tool_warning_ = fmt::format(
                "the chat template shows the tools to the model, but its tool-call syntax{} is not one loom reads: "
                "calls will appear as text",
                f ? fmt::format(" ({})", f->name) : "");
        }
    }
    if (opt.tools.forces_call()) {
        const std::string flag = opt.tools.choice == server::ToolChoice::named ? opt.tools.forced : "required";
        if (!c->tool_format_ || !c->tool_format_->can_force)
            return Error::invalid("--tool-choice {}: the chat template has no tool-call syntax loom can enforce", flag);
        if (opt.gen.grammar)
            return Error::invalid(
                "--tool-choice {}: a forced call cannot be combined with --grammar-file or --json-schema", flag);
        opt.gen.trie = grammar::VocabTrie::from_vocab(*c->vocab_, int32_t(model.n_vocab()));
    }
    opt.gen.seq = 0;
    opt.session.n_batch = opt.gen.n_batch;
    LOOM_TRY(c->session_, runtime::Session::create(model, opt.session));
    c->opt_ = std::move(opt);
    return c;
}

Result<std::vector<int32_t>> Conversation::render(std::string* text) const {
    Json messages = Json::array();
    for (const ChatMessage& m : messages_) {
        Json j = {{"role", m.role}, {"content", m.content}};
        if (!m.tool_calls.is_null()) j["tool_calls"] = m.tool_calls;
        if (m.role == "tool") {
            j["tool_call_id"] = m.tool_call_id;
            if (!m.name.empty()) j["name"] = m.name;
        }
        messages.push_back(std::move(j));
    }
    LOOM_TRY(*text,
             template_->render(tokenizer::chat_context(*vocab_, std::move(messages), /*add_generation_prompt=*/true,
                                                       opt_.tools.given() ? opt_.tools.tools : Json(nullptr),
                                                       opt_.template_kwargs)));
    return tokenizer::encode_chat_prompt(*tokenizer_, *vocab_, *text);
}

Result<TurnStats> Conversation::say(const std::string& user, const PieceFn& on_piece) {
    messages_.push_back({"user", user, {}, nullptr, {}, {}});
    return reply(1, on_piece);
}

Result<TurnStats> Conversation::answer_calls(const std::vector<ToolResult>& results, const PieceFn& on_piece) {
    if (results.size() != pending_.size())
        return Error::invalid("{} tool results for {} calls: answer each call", results.size(), pending_.size());
    for (const ToolResult& r : results) messages_.push_back({"tool", r.content, {}, nullptr, r.call_id, r.name});
    return reply(results.size(), on_piece);
}

Result<TurnStats> Conversation::reply(size_t n_added, const PieceFn& on_piece) {
    stop_requested_.store(false, std::memory_order_relaxed);
    const auto take_back = [&] { messages_.resize(messages_.size() - n_added); };
    // tool_choice required / named forces the reply to a person's message; the reply to tool results is free,
    // or the model could never answer in words.
    const bool after_tools = messages_.back().role == "tool";
    pending_.clear();
    std::string text;
    auto ids = render(&text);
    if (!ids.ok()) {
        take_back();
        return std::move(ids).error().with_context("the chat template refused the conversation");
    }
    const std::vector<int32_t>& prompt = *ids;
    if (int64_t(prompt.size()) >= n_ctx()) {
        take_back();
        return Error::invalid(
            "the conversation would be {} tokens with this turn, and the context holds {} (-c): "
            "/clear it, or start with a larger -c",
            prompt.size(), n_ctx());
    }
    const bool opens_thinking = server::ReasoningSplitter::prompt_opens_thinking(text);
    runtime::GenerateOptions gen = opt_.gen;
    if (opt_.tools.forces_call() && !after_tools) {  // create() checked the format and made the trie
        auto g = server::call_grammar(*tool_format_, opt_.tools.callable(), opt_.tools.parallel,
                                      opens_thinking && think_markers_ ? "</think>\n\n" : "");
        if (!g.ok()) {
            take_back();
            return std::move(g).error().with_context("--tools");
        }
        gen.grammar = std::move(g).value();
    }
    const runtime::KeptPrefix kept = runtime::keep_prefix(*session_, 0, held_, prompt);
    gen.n_keep = kept.n_keep;

    // Call markers may be control tokens, so a reply read for calls is decoded with them.
    tokenizer::StreamingDecoder decoder(*vocab_, /*render_special=*/tool_format_ != nullptr);
    runtime::StopMatcher stops(opt_.stop);
    server::ReasoningSplitter split(think_markers_, opens_thinking);
    std::optional<server::ToolCallParser> calls;
    if (tool_format_) calls.emplace(*tool_format_);
    ChatMessage reply{"assistant", {}, {}, nullptr, {}, {}};
    bool listening = true;
    auto show = [&](const std::string& reasoning, const std::string& content) {
        reply.reasoning += reasoning;
        reply.content += content;
        if (listening && (!reasoning.empty() || !content.empty())) listening = on_piece(reasoning, content);
    };
    auto take_calls = [&](server::ToolCallParser::Out o) {
        for (server::ToolCall& call : o.calls) pending_.push_back(std::move(call));
        return std::move(o.content);
    };
    auto emit = [&](const server::ReasoningSplitter::Out& o, bool final) {
        std::string content = o.content;
        if (calls) {
            content = take_calls(calls->feed(content));
            if (final) content += take_calls(calls->flush());
        }
        show(o.reasoning, content);
    };
    std::vector<int32_t> generated;
    auto st = runtime::generate(*session_, prompt, gen, [&](int32_t token) {
        if (stop_requested_.load(std::memory_order_relaxed)) return false;
        generated.push_back(token);
        const runtime::StopResult r = stops.feed(decoder.push(token));
        emit(split.feed(r.text), false);
        return !r.stopped && listening;
    });
    if (!st.ok()) {
        take_back();
        pending_.clear();
        session_->reset(0);
        held_.clear();
        return std::move(st).error();
    }
    if (!stops.stopped()) emit(split.feed(stops.feed(decoder.flush()).text + stops.flush().text), false);
    emit(split.flush(), true);
    if (!pending_.empty()) {
        reply.tool_calls = Json::array();
        for (const server::ToolCall& call : pending_) {
            reply.tool_calls.push_back({{"id", call.id},
                                        {"type", "function"},
                                        {"function", {{"name", call.name}, {"arguments", arguments_object(call)}}}});
        }
    }
    messages_.push_back(std::move(reply));

    // What the cache now holds: the prompt and the generated tokens that were run (not the last one drawn).
    held_ = prompt;
    held_.insert(held_.end(), generated.begin(), generated.end());
    held_.resize(size_t(std::min<int64_t>(int64_t(held_.size()), session_->n_past(0))));

    TurnStats t;
    t.n_prompt = int64_t(prompt.size());
    t.n_kept = kept.n_keep;
    t.n_prefilled = st->n_prompt;
    t.n_generated = st->n_generated;
    t.prefill_seconds = st->prompt_seconds;
    t.decode_seconds = st->generate_seconds;
    t.n_resets = kept.reset ? 1 : 0;
    t.stop = st->stop;
    last_ = t;
    total_.add(t);
    ++n_turns_;
    return t;
}

void Conversation::clear() {
    std::erase_if(messages_, [](const ChatMessage& m) { return m.role != "system"; });
    pending_.clear();
}

void Conversation::set_system(const std::string& text) {
    std::erase_if(messages_, [](const ChatMessage& m) { return m.role == "system"; });
    if (!text.empty()) messages_.insert(messages_.begin(), {"system", text, {}, nullptr, {}, {}});
}

Status Conversation::save(const std::string& path) const {
    Json messages = Json::array();
    for (const ChatMessage& m : messages_) {
        Json j = {{"role", m.role}, {"content", m.content}};
        if (!m.reasoning.empty()) j["reasoning_content"] = m.reasoning;
        if (!m.tool_calls.is_null()) {
            // As a chat completions request sends them: arguments as JSON text.
            Json calls = m.tool_calls;
            for (Json& c : calls) {
                Json& args = c["function"]["arguments"];
                if (!args.is_string()) args = args.dump();
            }
            j["tool_calls"] = std::move(calls);
        }
        if (m.role == "tool") {
            j["tool_call_id"] = m.tool_call_id;
            if (!m.name.empty()) j["name"] = m.name;
        }
        messages.push_back(std::move(j));
    }
    std::ofstream out(path, std::ios::binary);
    if (!out) return Error::io("{}: cannot write the conversation", path);
    out << Json{{"messages", std::move(messages)}}.dump(2) << '\n';
    if (!out.flush()) return Error::io("{}: writing the conversation failed", path);
    return Ok();
}

Status Conversation::load(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error::io("{}: cannot open the conversation", path);
    std::stringstream ss;
    ss << in.rdbuf();
    Json doc = Json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) return Error::invalid("{}: not JSON", path);
    const Json* list = &doc;
    if (doc.is_object()) {
        auto it = doc.find("messages");
        if (it == doc.end()) return Error::invalid("{}: no \"messages\" (expected {{\"messages\": [...]}})", path);
        list = &*it;
    }
    if (!list->is_array())
        return Error::invalid("{}: messages must be an array (expected {{\"messages\": [...]}} or [...])", path);
    std::vector<ChatMessage> loaded;
    for (size_t i = 0; i < list->size(); ++i) {
        const Json& m = (*list)[i];
        const std::string where = fmt::format("{}: messages[{}]", path, i);
        if (!m.is_object()) return Error::invalid("{}: expected an object with role and content", where);
        auto role = m.find("role");
        auto content = m.find("content");
        if (role == m.end() || !role->is_string()) return Error::invalid("{}: role must be a string", where);
        const std::string r = role->get<std::string>();
        if (r != "system" && r != "user" && r != "assistant" && r != "tool")
            return Error::invalid("{}: role '{}' (expected system, user, assistant or tool)", where, r);
        auto calls = m.find("tool_calls");
        const bool has_calls = calls != m.end() && !calls->is_null();
        // An assistant message that only calls tools may have a null content, as OpenAI writes it.
        const bool null_ok = has_calls && (content == m.end() || content->is_null());
        if (!null_ok && (content == m.end() || !content->is_string()))
            return Error::invalid("{}: content must be a string", where);
        ChatMessage msg{r, null_ok ? "" : content->get<std::string>(), {}, nullptr, {}, {}};
        if (auto rc = m.find("reasoning_content"); rc != m.end() && rc->is_string())
            msg.reasoning = rc->get<std::string>();
        if (has_calls) {
            if (r != "assistant") return Error::invalid("{}: only assistant messages carry tool_calls", where);
            if (server::MaybeError e = server::parse_message_tool_calls(*calls, "tool_calls", msg.tool_calls))
                return Error::invalid("{}: {}", where, e->message);
        }
        if (r == "tool") {
            auto id = m.find("tool_call_id");
            if (id == m.end() || !id->is_string())
                return Error::invalid("{}: a tool message needs tool_call_id (a string)", where);
            msg.tool_call_id = id->get<std::string>();
            if (auto name = m.find("name"); name != m.end() && name->is_string()) msg.name = name->get<std::string>();
        }
        loaded.push_back(std::move(msg));
    }
    messages_ = std::move(loaded);
    // A conversation saved while calls waited for their results goes on waiting for them.
    pending_.clear();
    if (!messages_.empty() && !messages_.back().tool_calls.is_null()) pending_ = calls_of(messages_.back().tool_calls);
    return Ok();
}

}  // namespace loom::cli
