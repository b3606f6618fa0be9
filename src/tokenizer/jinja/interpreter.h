// Renders a parsed template against a context, with jinja2's semantics for what chat templates use, inside
// budgets: a hostile template (endless loop, runaway recursion, huge strings) ends with an error after a
// bounded amount of work and memory. Nothing but the context and the built-ins is reachable.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "tokenizer/jinja/ast.h"

namespace loom::tokenizer::jinja {

struct Limits {
    uint64_t max_steps = 5'000'000;       // statements + expressions evaluated
    size_t max_output = size_t(8) << 20;  // bytes of output, and of any one string or list built
    size_t max_depth = 64;                // macro calls (nested) and expression nesting
    double max_seconds = 2.0;             // wall time
    std::optional<int64_t> now_unix;      // the clock of strftime_now (tests fix it); default: the real one
};

class Interpreter {
public:
    explicit Interpreter(const Limits& limits) : limits_(limits) {}

    // Renders `body` with `context` as its global variables.
    Result<std::string> render(const Body& body, const Object& context);

    // For built-ins: charge `n` steps / check a size against the budgets.
    Status charge(uint64_t n = 1);
    Status check_size(size_t bytes, const char* what) const;
    const Limits& limits() const { return limits_; }
    Result<Value> call(const Value& f, const Args& args, int line);

private:
    using Frame = std::shared_ptr<Object>;
    enum class Flow { normal, break_, continue_ };

    Result<Flow> exec(const Body& body, std::string& out);
    Result<Flow> exec(const Stmt& s, std::string& out);
    Result<Value> eval(const Expr& e);
    Result<Value> eval_binary(const Expr& e);
    Result<Value> filter(const Expr& e, Value v);
    Result<bool> test(const Expr& e, const Value& v);
    Result<Args> eval_args(const Expr& e);
    Result<Value> attribute(const Value& v, const std::string& name, int line);
    Result<Value> item(const Value& v, const Value& key, int line);
    Value lookup(const std::string& name) const;
    void assign(const std::string& name, Value v);
    Result<Value> call_macro(const Stmt& m, const Args& args, int line);

    Limits limits_;
    uint64_t steps_ = 0;
    size_t depth_ = 0;
    std::chrono::steady_clock::time_point start_;
    std::vector<Frame> frames_;  // [0]: built-ins and context; [1]: template scope; then loops and macros
};

Error fail(int line, std::string what);

}  // namespace loom::tokenizer::jinja
