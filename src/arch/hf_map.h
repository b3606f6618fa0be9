// The [hf] section of an architecture file: how a Hugging Face checkpoint of the family becomes the GGUF the rest
// of the file binds (metadata keys from config.json, tensor names from the checkpoint's, load-time transforms).
// Facts: shared reference, vision-and-safetensors §2.3–2.5 (what llama.cpp's converter does).
//
//   [hf]
//   architectures = ["LlamaForCausalLM"]        config.json "architectures" values this family serves
//   ignore = ["model.layers.{layer}.self_attn.rotary_emb.inv_freq", "model.visual.*"]   checkpoint tensors
//                                                 dropped (a final '*' matches any rest of the name); an entry
//                                                 { name = "lm_head.weight", if = "<expression>" } only when
//                                                 the expression over config.json holds (a tied head)
//   prefixes = { "model.language_model." = "model." }   checkpoint name prefixes rewritten before matching
//                                                 (multimodal checkpoints nest the language model)
//   refuse = [{ key = "rope_scaling.rope_type", values = ["llama3"], why = "..." }]   config values loom cannot
//                                                 honour from a checkpoint yet: an error, not a silently wrong model
//   special_tokens = [{ if = "get('vocab_size', 0) == 32016", ids = { eot = 32010 } }]   when `if` holds over
//                                                 config.json, gguf-py's SpecialVocab is run again over these token
//                                                 types after the vocabulary, each id from the tokenizer files
//                                                 first, else the one given (tokenizer/hf_special_tokens.h)
//   tokenizer_flags = [{ if = "get('vocab_size', 0) == 49152", add_bos_token = false }]   flags (add_bos_token,
//                                                 add_eos_token, add_space_prefix) the family's set_vocab writes
//                                                 last, when `if` holds over config.json
//   tokenizer_config_prefix_space = true          set_vocab first writes tokenizer_config.json's add_prefix_space
//                                                 (when it has one) as add_space_prefix, whichever tokenizer file
//                                                 it then reads; a value that reader writes replaces it
//   sentencepiece = { add_space_prefix = false }  a SentencePiece tokenizer.model beside the checkpoint is read
//                                                 before tokenizer.json, as llama.cpp's converter does for the
//                                                 family; add_space_prefix is the value it writes
//   byte_fallback_bpe = { model = "<tokenizer.ggml.model>", pre = "default", merges = true, user_defined =
//                         ["<|x|>"], add_space_prefix = false, add_bos_token = true }
//                                                 a tokenizer.json BPE with byte fallback (not byte-level) is read
//                                                 as gguf-py's LlamaHfVocab reads it through transformers: the
//                                                 GGUF tokenizer model name (and `pre`, when the converter writes
//                                                 one), whether merges are kept, tokens the family's set_vocab
//                                                 makes user-defined and the flags it writes (the tokenizer
//                                                 class's own special tokens: tokenizer/hf_tokenizer_class.h)
//   [hf.config]                                  GGUF key ({arch} = the family) = config.json key, or a table:
//   "{arch}.block_count" = "num_hidden_layers"   { key = "k" | ["k1", "k2"], default = <number|string|bool|
//                                                 [numbers]> } (first key present; "a.b" reads a nested object; no
//                                                 key and no default: the metadata key is left out), or
//                                                 { value = "<expression>", default = ... }: a value computed
//                                                 from config.json (runtime/hf_metadata.h lists what it can read);
//                                                 a config.json key it needs that is absent gives the default;
//                                                 with each = "<expression>", value is evaluated once per i in
//                                                 [0, each) and the key is the array of the values (per layer);
//                                                 type = "f32" | "u32" | "i32": a number written as that type
//                                                 (as the converter's add_* call does), whatever config.json holds
//   [hf.tensors]                                 checkpoint name = GGUF name, or a table:
//   "model.norm.weight" = "output_norm.weight"   { name = "...", transform = ["op(arg, ...)", ...] }, or an
//                                                 array of such tables: one checkpoint tensor made into several
//   [hf.generated]                               GGUF tensors the converter computes from config.json alone:
//   "rope_freqs.weight" = { each = "n", value = "i < 32 ? 1 : 1e30", if = "..." }   an f32 vector of `each`
//                                                 values, entry i = value (if given: made only when `if` holds);
//                                                 meta('{arch}.key') reads a metadata key written above; a table
//                                                 let = { name = "<expression>" } names steps value (and each
//                                                 other) may read, evaluated for each i
// Names may hold {layer} (digits, the same in both names) and, in the checkpoint name, {expert}: tensors that
// differ only in {expert} are stacked, in expert order, into one tensor with a new outermost dimension.
// Transforms run in order; an argument is a number, a GGUF metadata key holding one, or an expression over
// config.json (as for [hf.config] values, without commas): see runtime/hf_transform.h.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "arch/expr.h"
#include "core/error.h"
#include "tokenizer/byte_fallback_bpe.h"

namespace loom::arch {

struct Node;

struct HfConfigKey {
    std::string key;                             // GGUF metadata key, {arch} substituted
    std::vector<std::string> from;               // config.json keys, first present wins
    std::optional<Expr> value;                   // computed from config.json instead
    std::optional<Expr> each;                    // with value: an array, value evaluated for each i < each
    std::optional<double> number;                // `default` when it is a number
    std::optional<std::vector<double>> numbers;  // `default` when it is an array of numbers
    std::optional<std::string> text;
    std::optional<bool> flag;
    bool fraction = false;  // the default was written with a fraction or exponent (an f32, not an integer)
    std::string type;       // `type`: "f32", "u32" or "i32" (a number the converter writes as that); "" any
    int line = 0;
};

struct HfRefusal {
    std::string key;                  // config.json key ("a.b" nested)
    std::vector<std::string> values;  // the values refused
    std::string why;
    int line = 0;
};

struct HfTransform {
    std::string op;
    std::vector<std::string> args;  // numbers or metadata keys ({arch} substituted)
    std::string text;               // as written, for reports
};

struct HfTensorRule {
    std::string from, to;  // checkpoint name pattern, GGUF name pattern
    std::vector<HfTransform> transforms;
    int line = 0;
};

// A tensor made from config.json, not read from the checkpoint (llama.cpp's generate_extra_tensors).
struct HfGenerated {
    std::string name;                                // GGUF name
    Expr each, value;                                // its length; entry i (f32)
    std::optional<Expr> when;                        // `if`: made only when it holds
    std::vector<std::pair<std::string, Expr>> lets;  // `let`: names value may read (each evaluated per i)
    int line = 0;
};

// The family's SentencePiece tokenizer handling (the [hf] sentencepiece table).
struct HfSentencePiece {
    std::optional<bool> add_space_prefix;
};

// The family's reading of a byte-fallback BPE tokenizer.json (the [hf] byte_fallback_bpe table).
using HfByteFallbackBpe = tokenizer::ByteFallbackBpe;

// Special token ids the converter sets after the vocabulary when a config.json condition holds (gguf-py's
// SpecialVocab over these types, each falling back to its id: llama's CodeLlama case).
struct HfSpecialTokens {
    Expr when;
    std::vector<std::pair<std::string, int64_t>> ids;  // token type (SpecialVocab's: "eot", "prefix", ...) → id
    int line = 0;
};

// Tokenizer flags the converter writes last when a config.json condition holds (llama's add_bos_token false for
// 49152-token vocabularies).
struct HfTokenizerFlags {
    Expr when;
    std::vector<std::pair<std::string, bool>> flags;  // "add_bos_token", "add_eos_token" or "add_space_prefix"
    int line = 0;
};

// A checkpoint name pattern to drop, unless its condition over config.json does not hold.
struct HfIgnore {
    std::string pattern;
    std::optional<Expr> when;
};

struct HfMap {
    std::vector<std::string> architectures;
    std::vector<HfIgnore> ignore;
    std::vector<std::pair<std::string, std::string>> prefixes;  // checkpoint name prefix → replacement
    std::vector<HfConfigKey> config;
    std::vector<HfRefusal> refuse;
    std::optional<HfSentencePiece> sentencepiece;        // absent: tokenizer.json only
    std::optional<HfByteFallbackBpe> byte_fallback_bpe;  // absent: tokenizer.json as byte-level BPE only
    std::vector<HfSpecialTokens> special_tokens;
    std::vector<HfTokenizerFlags> tokenizer_flags;
    bool tokenizer_config_prefix_space = false;
    std::vector<HfTensorRule> tensors;  // rules with the same `from` are consecutive (one tensor, several outputs)
    std::vector<HfGenerated> generated;

    // `section` is the [hf] table of the file at `path`, for family `arch`.
    static Result<HfMap> parse(const Node& section, const std::string& path, const std::string& arch);
};

// Matches a name against a pattern with {layer} and {expert} placeholders (each one or more digits); fills the
// numbers found (-1 where the pattern has none).
bool match_hf_pattern(const std::string& pattern, const std::string& name, int64_t& layer, int64_t& expert);
// Whether `name` matches an ignore pattern: match_hf_pattern, or a prefix when the pattern ends in '*'.
bool match_hf_ignore(const std::string& pattern, const std::string& name);
// The pattern with {layer} replaced.
std::string fill_layer(const std::string& pattern, int64_t layer);

}  // namespace loom::arch
