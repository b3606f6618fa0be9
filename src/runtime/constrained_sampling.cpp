#include "runtime/constrained_sampling.h"

namespace loom::runtime {

Result<ConstrainedDraw> sample_constrained(Sampler& sampler, grammar::TokenConstraint& constraint,
                                           std::span<const float> logits, std::vector<float>& scratch) {
    // Nothing may follow a complete match: stop without asking the model.
    if (constraint.must_end()) return ConstrainedDraw{-1, true};
    const grammar::VocabTrie& trie = constraint.trie();
    LOOM_TRY(const int32_t first, sampler.sample(logits));
    if (constraint.allows(first)) return ConstrainedDraw{first, trie.is_eog(first)};
    scratch.assign(logits.begin(), logits.end());
    constraint.apply(scratch);
    auto masked = sampler.sample(scratch);
    if (!masked.ok()) {
        if (constraint.can_end()) return ConstrainedDraw{-1, true};
        return Error::invalid("grammar: no token the grammar allows can be drawn here ({})",
                              constraint.automaton().error().empty() ? masked.error().message()
                                                                     : constraint.automaton().error());
    }
    return ConstrainedDraw{*masked, trie.is_eog(*masked)};
}

}  // namespace loom::runtime
