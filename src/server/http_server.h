// The HTTP layer of `loom serve` (cpp-httplib): binding, a thread per connection, authentication, the 16 MiB
// body limit, the loading state (503 until the model is ready), OpenAI-shaped errors for everything that goes
// wrong before a handler, optional CORS, and metrics per route. The endpoints themselves are routes.h's.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>

#include "core/error.h"

namespace httplib {
class Server;
}

namespace loom::server {

class Api;
class Metrics;

struct HttpOptions {
    std::string host = "127.0.0.1";
    int port = 8080;          // 0: any free port (see port())
    std::string api_key;      // empty: no authentication
    std::string cors_origin;  // empty: no CORS headers
    // Access-Control-Allow-Headers with cors_origin: "*" answers a preflight with the headers it asks for (the
    // official OpenAI JavaScript client sends x-stainless-*; a literal "*" would not cover Authorization).
    std::string cors_headers = "*";
    size_t max_body_bytes = size_t(16) << 20;  // larger bodies get 413 before they are read
    int n_threads = 32;                        // connections served at once (each stream holds one)
};

// Whether a host name or address is a loopback one (127.0.0.0/8, ::1, localhost).
bool is_loopback(const std::string& host);
// Compares an API key in time that depends only on the expected key's length.
bool key_matches(std::string_view given, std::string_view expected);

class HttpServer {
public:
    HttpServer(const HttpOptions& opt, Metrics& metrics);
    ~HttpServer();

    // Binds the address; errors name it. Then serve in a background thread with start().
    Status bind();
    int port() const { return port_; }
    void start();

    // The model is loaded: routes answer through `api` (PRECONDITION: outlives the server or set_api(nullptr)).
    void set_api(Api* api) { api_.store(api); }
    // Stops listening, lets in-flight handlers finish, joins.
    void stop();

private:
    void install_routes();

    HttpOptions opt_;
    Metrics& metrics_;
    std::unique_ptr<httplib::Server> svr_;
    std::atomic<Api*> api_{nullptr};
    int port_ = 0;
    int listen_fd_ = -1;
    std::thread thread_;
};

}  // namespace loom::server
