// cpp-httplib wiring: pre-routing checks (auth, loading), routes, error bodies, metrics, lifecycle.
#include "server/http_server.h"

#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <fmt/format.h>

#include "server/metrics.h"
#include "server/routes.h"
#include "server/web_page.h"

namespace loom::server {
namespace {

const char* kRoutes[] = {"/v1/chat/completions", "/v1/completions", "/v1/models", "/health", "/metrics", "/tokenize",
                         "/detokenize",          "/diagram",        "/"};

// Metrics label for a path: known routes by name, everything else as one value, so that clients cannot grow the
// label set without bound.
std::string route_label(const std::string& path) {
    for (const char* r : kRoutes)
        if (path == r) return r;
    return "other";
}

const char* status_type(int status) {
    if (status == 401) return "authentication_error";
    if (status == 404) return "not_found_error";
    if (status >= 500) return "server_error";
    return "invalid_request_error";
}

}  // namespace

bool is_loopback(const std::string& host) {
    return host == "localhost" || host == "::1" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

bool key_matches(std::string_view given, std::string_view expected) {
    // Every byte of the expected key is compared whatever the input, and a length difference is folded in,
    // so the time tells nothing about how much of a guess was right.
    unsigned diff = given.size() != expected.size() ? 1u : 0u;
    for (size_t i = 0; i < expected.size(); ++i) {
        const unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
        diff |= g ^ static_cast<unsigned char>(expected[i]);
    }
    return diff == 0;
}

HttpServer::HttpServer(const HttpOptions& opt, Metrics& metrics) : opt_(opt), metrics_(metrics) {
    svr_ = std::make_unique<httplib::Server>();
    install_routes();
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::install_routes() {
    httplib::Server& s = *svr_;
    const int n_threads = opt_.n_threads;
    s.new_task_queue = [n_threads] { return new httplib::ThreadPool(size_t(n_threads)); };
    s.set_payload_max_length(opt_.max_body_bytes);
    s.set_keep_alive_timeout(2);  // an idle keep-alive connection holds a thread; give it back soon
    s.set_read_timeout(30);
    s.set_write_timeout(30);
    // SO_REUSEADDR as httplib's default does; and remember the socket to widen its backlog after bind().
    s.set_socket_options([this](int sock) {
        int yes = 1;
        setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
        listen_fd_ = sock;
    });

    s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
        if (!opt_.cors_origin.empty()) {
            res.set_header("Access-Control-Allow-Origin", opt_.cors_origin);
            const std::string asked = req.get_header_value("Access-Control-Request-Headers");
            res.set_header("Access-Control-Allow-Headers", opt_.cors_headers != "*" ? opt_.cors_headers
                                                           : asked.empty()          ? "Authorization, Content-Type"
                                                                                    : asked);
            res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
            res.set_header("Access-Control-Max-Age", "600");
            if (opt_.cors_headers == "*") res.set_header("Vary", "Access-Control-Request-Headers");
            if (req.method == "OPTIONS") {
                res.status = 204;
                return httplib::Server::HandlerResponse::Handled;
            }
        }
        // The page, its diagram link and the health check need no key: the page asks for it, a link carries none,
        // and probes rarely carry one.
        const bool open = req.path == "/health" || req.path == "/" || req.path == "/diagram";
        if (!opt_.api_key.empty() && !open) {
            const std::string auth = req.get_header_value("Authorization");
            const std::string_view prefix = "Bearer ";
            const bool ok = auth.size() > prefix.size() && std::string_view(auth).substr(0, prefix.size()) == prefix &&
                            key_matches(std::string_view(auth).substr(prefix.size()), opt_.api_key);
            if (!ok) {
                send_error(res, ApiError::make(401, "authentication_error", "invalid_api_key",
                                               "missing or wrong API key (send Authorization: Bearer <key>)"));
                return httplib::Server::HandlerResponse::Handled;
            }
        }
        if (!api_.load() && req.path != "/") {
            res.set_header("Retry-After", "1");
            if (req.path == "/health") {
                res.status = 503;
                res.set_content(R"({"status":"loading"})", "application/json");
            } else {
                send_error(res, ApiError::make(503, "server_error", "loading", "the model is loading; retry shortly"));
            }
            return httplib::Server::HandlerResponse::Handled;
        }
        return httplib::Server::HandlerResponse::Unhandled;
    });

    auto with_api = [this](void (Api::*fn)(const httplib::Request&, httplib::Response&)) {
        return [this, fn](const httplib::Request& req, httplib::Response& res) { (api_.load()->*fn)(req, res); };
    };
    s.Post("/v1/chat/completions", with_api(&Api::chat_completions));
    s.Post("/chat/completions", with_api(&Api::chat_completions));
    s.Post("/v1/completions", with_api(&Api::completions));
    s.Post("/completions", with_api(&Api::completions));
    s.Get("/v1/models", with_api(&Api::models));
    s.Get("/models", with_api(&Api::models));
    s.Post("/tokenize", with_api(&Api::tokenize));
    s.Post("/detokenize", with_api(&Api::detokenize));
    s.Get("/diagram", with_api(&Api::diagram));
    s.Get("/health", [](const httplib::Request&, httplib::Response& res) {
        res.set_content(R"({"status":"ok"})", "application/json");
    });
    s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
        res.set_content(metrics_.render(), "text/plain; version=0.0.4");
    });
    s.Get("/", [](const httplib::Request&, httplib::Response& res) {
        res.set_content(web_page(), "text/html; charset=utf-8");
    });

    // Anything that reached no handler, or failed before one (413, 400 on a malformed request line), gets an
    // OpenAI-shaped body; bodies the handlers wrote are kept.
    s.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return;
        std::string msg;
        if (res.status == 404) msg = "no route " + req.method + " " + req.path;
        else if (res.status == 413) msg = "the request body is larger than the server accepts (16 MiB)";
        else if (res.status == 405) msg = "method not allowed";
        else msg = fmt::format("HTTP error {}", res.status);
        send_error(res, ApiError::make(res.status, status_type(res.status), "", msg));
    });
    s.set_exception_handler([](const httplib::Request&, httplib::Response& res, const std::exception_ptr& ep) {
        std::string what = "unknown exception";
        try {
            std::rethrow_exception(ep);
        } catch (const std::exception& e) {
            what = e.what();
        } catch (...) {
        }
        send_error(res, ApiError::make(500, "server_error", "internal_error", what));
    });
    s.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
        metrics_.request_done(route_label(req.path), res.status);
    });
}

Status HttpServer::bind() {
    if (opt_.port == 0) {
        port_ = svr_->bind_to_any_port(opt_.host);
        if (port_ <= 0) return Error::io("cannot bind {} on any port", opt_.host);
    } else {
        if (!svr_->bind_to_port(opt_.host, opt_.port))
            return Error::io("cannot bind {}:{} (in use, or not an address here)", opt_.host, opt_.port);
        port_ = opt_.port;
    }
    // httplib listens with a backlog of 5, fixed when the library was built: a burst of clients connecting at
    // once would wait for SYN retries. listen() again on the bound socket widens the backlog (Linux).
    if (listen_fd_ >= 0) ::listen(listen_fd_, 256);
    return Ok();
}

void HttpServer::start() {
    thread_ = std::thread([this] { svr_->listen_after_bind(); });
}

void HttpServer::stop() {
    if (svr_) svr_->stop();
    if (thread_.joinable()) thread_.join();
}

}  // namespace loom::server
