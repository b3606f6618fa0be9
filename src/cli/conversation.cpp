// A conversation over one Session: render the whole history, keep the KV of the longest common prefix with what
// the session holds, prefill the rest, and stream the reply through the stop strings and the reasoning split.
#include "cli/conversation.h"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "runtime/stop_strings.h"
#include "server/reasoning.h"

namespace loom::cli {

using Json = nlohmann::ordered_json;

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
    opt.gen.seq = 0;
    opt.session.n_batch = opt.gen.n_batch;
    LOOM_TRY(c->session_, runtime::Session::create(model, opt.session));
    c->opt_ = std::move(opt);
    return c;
}

Result<std::vector<int32_t>> Conversation::render(std::string* text) const {
    Json messages = Json::array();
    for (const ChatMessage& m : messages_) messages.push_back({{"role", m.role}, {"content", m.content}});
    LOOM_TRY(*text,
             template_->render(tokenizer::chat_context(*vocab_, std::move(messages), /*add_generation_prompt=*/true,
                                                       nullptr, opt_.template_kwargs)));
    return tokenizer::encode_chat_prompt(*tokenizer_, *vocab_, *text);
}

Result<TurnStats> Conversation::say(const std::string& user, const PieceFn& on_piece) {
    stop_requested_.store(false, std::memory_order_relaxed);
    messages_.push_back({"user", user, {}});
    std::string text;
    auto ids = render(&text);
    if (!ids.ok()) {
        messages_.pop_back();
        return std::move(ids).error().with_context("the chat template refused the conversation");
    }
    const std::vector<int32_t>& prompt = *ids;
    if (int64_t(prompt.size()) >= n_ctx()) {
        messages_.pop_back();
        return Error::invalid(
            "the conversation would be {} tokens with this turn, and the context holds {} (-c): "
            "/clear it, or start with a larger -c",
            prompt.size(), n_ctx());
    }
    const runtime::KeptPrefix kept = runtime::keep_prefix(*session_, 0, held_, prompt);
    runtime::GenerateOptions gen = opt_.gen;
    gen.n_keep = kept.n_keep;

    tokenizer::StreamingDecoder decoder(*vocab_);
    runtime::StopMatcher stops(opt_.stop);
    server::ReasoningSplitter split(think_markers_, server::ReasoningSplitter::prompt_opens_thinking(text));
    ChatMessage reply{"assistant", {}, {}};
    bool listening = true;
    auto emit = [&](const server::ReasoningSplitter::Out& o) {
        reply.reasoning += o.reasoning;
        reply.content += o.content;
        if (listening && (!o.reasoning.empty() || !o.content.empty())) listening = on_piece(o.reasoning, o.content);
    };
    std::vector<int32_t> generated;
    auto st = runtime::generate(*session_, prompt, gen, [&](int32_t token) {
        if (stop_requested_.load(std::memory_order_relaxed)) return false;
        generated.push_back(token);
        const runtime::StopResult r = stops.feed(decoder.push(token));
        emit(split.feed(r.text));
        return !r.stopped && listening;
    });
    if (!st.ok()) {
        messages_.pop_back();
        session_->reset(0);
        held_.clear();
        return std::move(st).error();
    }
    if (!stops.stopped()) emit(split.feed(stops.feed(decoder.flush()).text + stops.flush().text));
    emit(split.flush());
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
}

void Conversation::set_system(const std::string& text) {
    std::erase_if(messages_, [](const ChatMessage& m) { return m.role == "system"; });
    if (!text.empty()) messages_.insert(messages_.begin(), {"system", text, {}});
}

Status Conversation::save(const std::string& path) const {
    Json messages = Json::array();
    for (const ChatMessage& m : messages_) {
        Json j = {{"role", m.role}, {"content", m.content}};
        if (!m.reasoning.empty()) j["reasoning_content"] = m.reasoning;
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
        if (r != "system" && r != "user" && r != "assistant")
            return Error::invalid("{}: role '{}' (expected system, user or assistant)", where, r);
        if (content == m.end() || !content->is_string()) return Error::invalid("{}: content must be a string", where);
        ChatMessage msg{r, content->get<std::string>(), {}};
        if (auto rc = m.find("reasoning_content"); rc != m.end() && rc->is_string())
            msg.reasoning = rc->get<std::string>();
        loaded.push_back(std::move(msg));
    }
    messages_ = std::move(loaded);
    return Ok();
}

}  // namespace loom::cli
