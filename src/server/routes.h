// The API's endpoints once the model is loaded: parse and check a request, turn it into sequences for the
// scheduler, and answer as JSON or as a Server-Sent Events stream. Authentication, loading and draining
// states, body limits and errors for unknown routes are the HTTP layer's (http_server.h).
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>

#include "server/api_error.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace loom::server {

struct ServedModel;
class Scheduler;
class Metrics;

// Writes an error as the response.
void send_error(httplib::Response& res, const ApiError& e);

class Api {
public:
    // PRECONDITION: all three outlive the Api. keep_alive: a streamed answer with nothing to send for that long
    // sends an SSE comment line (0: never).
    Api(const ServedModel& model, Scheduler& scheduler, Metrics& metrics,
        std::chrono::milliseconds keep_alive = std::chrono::seconds(5));

    void chat_completions(const httplib::Request& req, httplib::Response& res);
    void completions(const httplib::Request& req, httplib::Response& res);
    void models(const httplib::Request& req, httplib::Response& res);
    void tokenize(const httplib::Request& req, httplib::Response& res);
    void detokenize(const httplib::Request& req, httplib::Response& res);
    // GET /diagram: the model's architecture diagram as SVG (src/diagram/), drawn on the first request and kept.
    void diagram(const httplib::Request& req, httplib::Response& res);

    // From now on generation requests get 503 (the server is shutting down).
    void refuse_new() { refusing_.store(true); }

private:
    const ServedModel& model_;
    Scheduler& scheduler_;
    Metrics& metrics_;
    std::chrono::milliseconds keep_alive_;
    std::atomic<bool> refusing_{false};
    std::mutex diagram_mutex_;
    std::string diagram_svg_;  // empty until drawn
};

}  // namespace loom::server
