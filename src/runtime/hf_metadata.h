// The metadata half of a Hugging Face directory (runtime/hf_directory.h): config.json through the family's
// [hf.config] map, and the tokenizer files, written as the GGUF keys llama.cpp's converter would write.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>
#include <nlohmann/json_fwd.hpp>

#include "core/error.h"

namespace loom::arch {
struct HfMap;
struct HfSentencePiece;
struct HfSpecialTokens;
class Expr;
struct Value;
}  // namespace loom::arch
namespace loom::formats {
class GgufWriter;
}

namespace loom::runtime {

// config.json as an object, a nested language-model config (text_config, ...) merged over the top level as the
// converter does.
Result<nlohmann::json> read_hf_config(const std::string& dir);
// The values of `map`'s config keys: JSON integers as u32 (i32 when negative, u64/i64 when wider), other numbers
// as f32, booleans, strings, arrays of those; a null value counts as absent. A computed value: a whole number as
// u32 (i32 when negative), else f32; an array as i32 when all whole, else f32.
Status add_config_metadata(const arch::HfMap& map, const nlohmann::json& config, const std::string& source,
                           formats::GgufWriter& w);
// An expression of the architecture file's [hf] section over config.json. Names are top-level keys (numbers,
// booleans as 1/0, strings, arrays of numbers or booleans); functions: get('a.b') and get('a.b', fallback) read a
// nested key, has('a.b'), is_null('a.b') (present as JSON null), each_eq('key', 'text') gives 1/0 for each entry
// of a string array, layer_override('field', 'type', fallback) reads transformers' per_layer_config for the first
// layer of that layer_types kind, pad(array, n) cuts or zero-pads to n entries, none() leaves the key out. A key that
// is absent is an error with `absent` set to it (the caller's default applies then). RoPE parameters as llama.cpp's
// TextModel reads them: rope_param('key', fallback) and has_rope_param('key') look in its rope_params (config.json's
// rope_parameters, else rope_scaling, `type` read as rope_type and rope_theta, partial_rotary_factor and
// original_max_position_embeddings taken from the top level; the full_attention table when split), and
// rope_parameters('key', fallback) in the whole table; fail('message') is an error with that message.
Result<arch::Value> eval_config(const arch::Expr& e, const nlohmann::json& config, std::string* absent);
// The same, where meta('key') also reads a metadata key already written to `meta` (as a number).
Result<arch::Value> eval_config(const arch::Expr& e, const nlohmann::json& config, const formats::GgufWriter& meta);
// `value` evaluated for i = 0 .. each − 1 (each at most 2^20): the entries of a per-layer key or a generated
// tensor; meta('key') is available when `meta` is given, and the names of `lets` (a generated tensor's let table,
// evaluated where read, for each i).
Result<std::vector<double>> eval_each(const arch::Expr& each, const arch::Expr& value, const nlohmann::json& config,
                                      const formats::GgufWriter* meta, std::string* absent,
                                      const std::vector<std::pair<std::string, arch::Expr>>* lets = nullptr);
// A metadata key's value as a number (an error when it is absent or not a number).
Result<double> metadata_number(const formats::GgufWriter& meta, const std::string& key);
// An error when config.json holds a value the family's [hf] refuse list names.
Status check_refusals(const arch::HfMap& map, const nlohmann::json& config, const std::string& source);
// The tokenizer files as tokenizer.ggml.* keys: tokenizer.model (SentencePiece, RawVocab::from_spm) when the family
// has an [hf] sentencepiece table and the file is there, else tokenizer.json: a BPE with byte fallback as the
// family's [hf] byte_fallback_bpe table says (RawVocab::from_hf_byte_fallback), when it has one and the file is
// one, else byte-level BPE (RawVocab::from_hf), each with tokenizer_config.json; the chat template
// (tokenizer_config.json's chat_template, or chat_template.jinja), and generation_config.json's eos_token_id where
// the tokenizer names none; but for the byte-fallback reading, the vocabulary padded to config.json's vocab_size as
// the converter does; then the family's [hf] special_tokens where their condition holds. Nothing when neither file
// is there.
Status add_tokenizer_metadata(const std::string& dir, const nlohmann::json& config, const arch::HfMap& map,
                              formats::GgufWriter& w);

}  // namespace loom::runtime
