// The serve subcommand: bind first (so clients see 503 "loading" rather than a refused connection), load the
// model, start the scheduler, serve until SIGTERM or SIGINT, then drain: refuse new generations, finish the
// ones in flight, stop.
#include "cli/serve.h"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "cli/model_options.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/routes.h"
#include "server/scheduler.h"
#include "server/served_model.h"

namespace loom::cli {
namespace {

struct ServeOptions {
    ModelOptions model;
    server::HttpOptions http;
    server::SchedulerOptions sched;
    bool allow_public = false;
    int64_t cache_ram_mib = 4096;
    double keep_alive_s = 5;
    std::string alias, chat_template_file;
};

Status serve(ServeOptions& o) {
    if (!server::is_loopback(o.http.host) && o.http.api_key.empty() && !o.allow_public)
        return Error::invalid(
            "--host {} is reachable from other machines: set --api-key KEY, or pass "
            "--allow-public-without-key to serve it unauthenticated",
            o.http.host);
    if (o.sched.n_parallel < 1 || o.sched.n_parallel > 256)
        return Error::invalid("--parallel {}: use 1..256", o.sched.n_parallel);
    if (o.sched.max_queue < 1) return Error::invalid("--queue {}: must be at least 1", o.sched.max_queue);
    if (o.sched.n_batch < 1) return Error::invalid("--batch-size {}: must be at least 1", o.sched.n_batch);
    LOOM_RETURN_IF_ERROR(runtime::plan_diffusion(o.sched.diffusion, 1, 1));  // the --diffusion-* flags
    if (o.cache_ram_mib < 0 || o.cache_ram_mib > (int64_t(1) << 30))
        return Error::invalid("--cache-ram {}: use 0 (no prefix cache) up to 2^30 MiB", o.cache_ram_mib);
    o.sched.cache_bytes = size_t(o.cache_ram_mib) << 20;
    if (!(o.keep_alive_s >= 0 && o.keep_alive_s <= 3600))
        return Error::invalid("--sse-keep-alive {}: use 0 (none) up to 3600 seconds", o.keep_alive_s);
    std::string template_source;
    if (!o.chat_template_file.empty()) {
        std::ifstream in(o.chat_template_file, std::ios::binary);
        if (!in) return Error::io("{}: cannot open the chat template", o.chat_template_file);
        std::stringstream ss;
        ss << in.rdbuf();
        template_source = ss.str();
    }

    // Signals are taken by sigwait below, not by handlers: block them before any thread starts, so every
    // thread inherits the mask.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);  // a client that left makes writes fail, not the process die

    // Each connection holds a thread while it streams or waits in the queue.
    o.http.n_threads = o.sched.n_parallel + o.sched.max_queue + 8;
    server::Metrics metrics;
    server::HttpServer http(o.http, metrics);
    LOOM_RETURN_IF_ERROR(http.bind());
    http.start();
    fmt::print(stderr, "loom serve: listening on http://{}:{} (loading the model)\n", o.http.host, http.port());

    LOOM_TRY(auto model, o.model.load_model());
    LOOM_TRY(runtime::SessionOptions so, o.model.session_options(*model));
    so.n_seq = o.sched.n_parallel;
    so.n_batch = o.sched.n_batch;
    LOOM_TRY(auto session, runtime::Session::create(*model, so));
    metrics.set_memory(int64_t(session->memory().kv_bytes_per_seq()), int64_t(session->memory().state_bytes_per_seq()));
    std::string name = o.alias;
    if (name.empty())
        name = std::filesystem::path(o.model.model.empty() ? "default" : o.model.model).filename().string();
    LOOM_TRY(server::ServedModel served,
             server::ServedModel::create(std::move(model), name, session->options().n_ctx, template_source));
    server::Scheduler scheduler(*session, *served.vocab, o.sched, &metrics);
    server::Api api(served, scheduler, metrics, std::chrono::milliseconds(int64_t(o.keep_alive_s * 1000)));
    http.set_api(&api);
    fmt::print(stderr, "loom serve: ready: {} ({} slots × {} tokens of context, queue {})\n", served.name,
               o.sched.n_parallel, served.n_ctx, o.sched.max_queue);

    int sig = 0;
    sigwait(&signals, &sig);
    fmt::print(stderr, "loom serve: {}: finishing the requests in flight\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    api.refuse_new();
    scheduler.drain();
    http.stop();
    http.set_api(nullptr);
    fmt::print(stderr, "loom serve: stopped\n");
    return Ok();
}

}  // namespace

void add_serve_command(CLI::App& app) {
    auto o = std::make_shared<ServeOptions>();
    CLI::App* cmd = app.add_subcommand("serve", "Serve the model over an OpenAI-compatible HTTP API");
    o->model.add_to(*cmd);
    cmd->add_option("--host", o->http.host, "Address to bind (loopback by default)")->capture_default_str();
    cmd->add_option("--port", o->http.port, "Port (0: any free port)")->capture_default_str();
    // The environment keeps the key out of `ps` output.
    cmd->add_option("--api-key", o->http.api_key, "Require Authorization: Bearer KEY on every route but / and /health")
        ->envname("LOOM_API_KEY");
    cmd->add_flag("--allow-public-without-key", o->allow_public, "Allow a non-loopback --host without --api-key");
    cmd->add_option("--cors-origin", o->http.cors_origin, "Send CORS headers allowing this origin (none by default)");
    cmd->add_option("--cors-allow-headers", o->http.cors_headers,
                    "Access-Control-Allow-Headers with --cors-origin (*: the headers a preflight asks for)")
        ->capture_default_str();
    cmd->add_option("--sse-keep-alive", o->keep_alive_s,
                    "Seconds without output after which a stream gets an SSE comment line (0: never)")
        ->capture_default_str();
    cmd->add_option("--parallel", o->sched.n_parallel, "Sequences generated at once (KV cache slots)")
        ->capture_default_str();
    cmd->add_option("--queue", o->sched.max_queue, "Sequences that may wait for a slot; beyond, 503")
        ->capture_default_str();
    cmd->add_option("-b,--batch-size", o->sched.n_batch, "Tokens per forward pass (decode + prefill chunks)")
        ->capture_default_str();
    cmd->add_flag(
        "--fuse-prefill", o->sched.fuse_prefill,
        "Run prefill chunks in the decode pass (faster; temperature-0 output may then depend on other requests)");
    cmd->add_option("--cache-ram", o->cache_ram_mib,
                    "MiB of prompt-prefix snapshots the prefix cache keeps (0: no cache; not with --fuse-prefill)")
        ->capture_default_str();
    auto& d = o->sched.diffusion;
    cmd->add_option("--diffusion-steps", d.steps, "Diffusion models: denoising passes per request")
        ->capture_default_str();
    cmd->add_option("--diffusion-block-length", d.block_length,
                    "Diffusion models: positions per block (the text streams block by block)")
        ->capture_default_str();
    cmd->add_option("--diffusion-eps", d.eps, "Diffusion models: > 0 picks the timestep schedule with this eps");
    cmd->add_option("--diffusion-algorithm", d.algorithm,
                    "Diffusion models: which positions unmask first: confidence, entropy, margin, random, origin")
        ->capture_default_str();
    cmd->add_option("--alias", o->alias, "Model name reported by the API (default: the file name)");
    cmd->add_option("--chat-template-file", o->chat_template_file, "Jinja chat template to use instead of the model's");
    cmd->callback([o] {
        if (auto st = serve(*o); !st.ok()) {
            fmt::print(stderr, "loom: {}\n", st.error().message());
            throw CLI::RuntimeError(1);
        }
    });
}

}  // namespace loom::cli
