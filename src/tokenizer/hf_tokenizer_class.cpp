// hf_tokenizer_class: the transformers 4.57 tokenizer classes that read a tokenizer.json BPE with byte fallback,
// with their __init__ defaults (models/<name>/tokenization_<name>_fast.py), and AutoTokenizer's choice among them.
#include "tokenizer/hf_tokenizer_class.h"

#include <array>

namespace loom::tokenizer {
namespace {

using json = nlohmann::json;

// Keyed by the class name without its "Fast" suffix, as tokenizer_config.json usually names it.
const std::vector<std::pair<std::string, HfTokenizerClass>>& known_classes() {
    static const std::vector<std::pair<std::string, HfTokenizerClass>> classes = {
        {"PreTrainedTokenizer", {"PreTrainedTokenizerFast", {}, {}}},
        {"LlamaTokenizer",
         {"LlamaTokenizerFast", {{"unk_token", "<unk>"}, {"bos_token", "<s>"}, {"eos_token", "</s>"}}, {}}},
        {"CodeLlamaTokenizer",
         {"CodeLlamaTokenizerFast",
          {{"unk_token", "<unk>"}, {"bos_token", "<s>"}, {"eos_token", "</s>"}},
          {{"prefix_token", "\u2581<PRE>"},
           {"middle_token", "\u2581<MID>"},
           {"suffix_token", "\u2581<SUF>"},
           {"eot_token", "\u2581<EOT>"}}}},
        {"GemmaTokenizer",
         {"GemmaTokenizerFast",
          {{"unk_token", "<unk>"}, {"bos_token", "<bos>"}, {"eos_token", "<eos>"}, {"pad_token", "<pad>"}},
          {}}},
    };
    return classes;
}

// TOKENIZER_MAPPING's fast class for a model_type, among the known classes (models/auto/tokenization_auto.py;
// mistral maps to LlamaTokenizerFast when mistral-common is not installed, as the converter's requirements have it).
constexpr std::array<std::pair<const char*, const char*>, 6> kModelTypes = {{
    {"llama", "LlamaTokenizer"},
    {"mistral", "LlamaTokenizer"},
    {"gemma", "GemmaTokenizer"},
    {"gemma2", "GemmaTokenizer"},
    {"gemma3", "GemmaTokenizer"},
    {"gemma3_text", "GemmaTokenizer"},
}};

std::string string_at(const json& j, const char* key) {
    return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
}

}  // namespace

Result<HfTokenizerClass> hf_tokenizer_class(const json& tokenizer_config, const json& config,
                                            const std::string& source) {
    std::string name = string_at(tokenizer_config, "tokenizer_class");
    std::string where = "tokenizer_config.json";
    if (name.empty()) {
        name = string_at(config, "tokenizer_class");
        where = "config.json";
    }
    if (name.empty()) {
        const std::string type = string_at(config, "model_type");
        for (const auto& [t, c] : kModelTypes)
            if (type == t) name = c;
        if (name.empty())
            return Error::not_found(
                "{}: neither tokenizer_config.json nor config.json names a tokenizer_class, and loom does not know "
                "which tokenizer class transformers uses for model_type '{}'",
                source, type);
        where = "config.json's model_type";
    }
    const std::string fast = "Fast";
    const std::string key = name.size() > fast.size() && name.compare(name.size() - fast.size(), fast.size(), fast) == 0
                                ? name.substr(0, name.size() - fast.size())
                                : name;
    for (const auto& [k, c] : known_classes())
        if (k == key) return c;
    return Error::not_found(
        "{}: tokenizer class '{}' ({}) is not one loom knows the special tokens of (it knows PreTrainedTokenizerFast, "
        "LlamaTokenizer, CodeLlamaTokenizer, GemmaTokenizer)",
        source, name, where);
}

}  // namespace loom::tokenizer
