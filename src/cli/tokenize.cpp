// `loom tokenize`: opens the model, loads its vocabulary, tokenizes and prints one line per token.
#include "cli/tokenize.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "core/default_model.h"
#include "formats/gguf_reader.h"
#include "runtime/hf_directory.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace loom::cli {
namespace {

int fail(const Error& e, std::string& err) {
    err = fmt::format("loom: {}\n", e.message());
    return 1;
}

Result<std::string> read_text(const TokenizeOptions& o) {
    if (o.file.empty()) return o.prompt;
    if (o.file == "-") return std::string(std::istreambuf_iterator<char>(std::cin), {});
    std::ifstream in(o.file, std::ios::binary);
    if (!in) return Error::io("{}: cannot open", o.file);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// A piece for a terminal: printable ASCII as is, the rest escaped (so control bytes and partial UTF-8 stay visible).
std::string escape(std::string_view p) {
    std::string s;
    for (unsigned char c : p) {
        if (c == '\\') s += "\\\\";
        else if (c == '\n') s += "\\n";
        else if (c == '\t') s += "\\t";
        else if (c == '\r') s += "\\r";
        else if (c < 0x20 || c == 0x7F) s += fmt::format("\\x{:02x}", c);
        else s += char(c);  // UTF-8 bytes pass; a terminal shows whole characters
    }
    return s;
}

}  // namespace

int run_tokenize(const TokenizeOptions& o, std::string& out, std::string& err) {
    Result<std::string> path = o.model.empty() ? default_model_path() : Result<std::string>(o.model);
    if (!path) return fail(path.error(), err);
    auto f = runtime::open_model_file(*path);  // a GGUF file or a Hugging Face directory
    if (!f) return fail(f.error(), err);
    auto vocab = tokenizer::Vocab::load(*f);
    if (!vocab) return fail(vocab.error(), err);
    auto text = read_text(o);
    if (!text) return fail(text.error(), err);
    const tokenizer::Tokenizer tok(*vocab);
    auto ids = tok.encode(*text, o.add_special, o.parse_special);
    if (!ids) return fail(ids.error(), err);

    if (o.json) {
        nlohmann::json j;
        j["tokens"] = *ids;
        j["pieces"] = nlohmann::json::array();
        for (int32_t id : *ids) j["pieces"].push_back(tok.token_to_piece(id, true));
        out = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    } else if (o.ids_only) {
        out = fmt::format("{}\n", fmt::join(*ids, " "));
    } else {
        out.clear();
        for (int32_t id : *ids) out += fmt::format("{:>7} '{}'\n", id, escape(tok.token_to_piece(id, true)));
        out += fmt::format("{} tokens\n", ids->size());
    }
    return 0;
}

void add_tokenize_command(CLI::App& app) {
    auto o = std::make_shared<TokenizeOptions>();
    CLI::App* cmd = app.add_subcommand("tokenize", "Print the token ids and pieces of a text");
    cmd->add_option("-m,--model", o->model, "GGUF model (default: the default model)");
    auto* p = cmd->add_option("-p,--prompt", o->prompt, "The text");
    cmd->add_option("-f,--file", o->file, "Read the text from a file ('-' for stdin)")->excludes(p);
    cmd->add_flag("!--no-special-add", o->add_special, "Do not add BOS/EOS");
    cmd->add_flag("--parse-special", o->parse_special, "Special-token texts in the prompt become their ids");
    cmd->add_flag("--json", o->json, "One JSON line: {\"tokens\":[...],\"pieces\":[...]}");
    cmd->add_flag("--ids", o->ids_only, "Only the ids, space-separated");
    cmd->callback([o] {
        std::string out, err;
        const int rc = run_tokenize(*o, out, err);
        fmt::print("{}", out);
        if (rc != 0) {
            fmt::print(stderr, "{}", err);
            throw CLI::RuntimeError(rc);
        }
    });
}

}  // namespace loom::cli
